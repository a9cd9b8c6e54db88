import Foundation
import PackagePlugin

/// Stamps the version (VERSION) and the git commit into the AuthdVersion target before
/// every build, so `--version` of each executable names the source it was built from.
/// A prebuild command because the commit changes without any input file SwiftPM knows of.
@main
struct AuthdVersionPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        let output = context.pluginWorkDirectoryURL.appending(path: "Generated")
        let package = context.package.directoryURL
        return [
            .prebuildCommand(
                displayName: "Stamping the version and git commit",
                executable: URL(fileURLWithPath: "/bin/sh"),
                arguments: [package.appending(path: "tools/version-info.sh").path, package.path, output.path],
                outputFilesDirectory: output
            ),
        ]
    }
}
