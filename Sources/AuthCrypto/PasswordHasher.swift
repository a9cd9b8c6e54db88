internal import COpenSSL
internal import CScrypt
internal import NIOCore
internal import NIOPosix

/// The outcome of checking a password against a stored hash.
public enum PasswordVerification: Sendable, Hashable {
    case mismatch
    /// `needsRehash`: the stored hash used other parameters; hash the password again and store the new string.
    case match(needsRehash: Bool)
}

public enum PasswordHashError: Error, Hashable, Sendable {
    /// The stored string is not a PHC scrypt hash this hasher can check; the message says what is wrong
    /// (never echoing salt or hash).
    case malformedHash(String)
    /// OpenSSL failed, the hasher was shut down, or the caller's task was cancelled before the hash ran.
    case hashingFailed(String)
    /// The queue, or the source's share of it, is full; trying again after about `retryAfter` may work.
    case queueFull(retryAfter: Duration)
}

/// Told about each hash, for metrics: AuthCrypto records nothing itself, so that it needs
/// no metrics library; the server passes an observer that does.
public protocol PasswordHashObserver: Sendable {
    /// A hash ran: it waited `waited` for a thread (its turn in the fair queue), then took `took`.
    func hashed(waited: Duration, took: Duration)
    /// A hash was refused at once: the queue, or its source's share, was full.
    func refused()
}

/// Hashes and verifies passwords as PHC strings `$scrypt$ln=17,r=8,p=1$<salt b64>$<hash b64>`
/// (standard base64 alphabet without padding, 16-byte salt, 32-byte hash). Hashing runs on a dedicated
/// NIOThreadPool with one thread per core by default: parallel on all cores, never on the caller's thread
/// or an actor, and bounded (the pool size bounds memory: each thread keeps one work buffer of the
/// configured parameters' `memoryBytes`, wiped after every hash). Work beyond the pool size waits in the
/// pool's queue.
///
/// Passwords are hashed as their UTF-8 bytes, as given (no Unicode normalisation).
public final class PasswordHasher: Sendable {
    /// The parameters new hashes use; verifying a hash made with other parameters reports `needsRehash`.
    public let parameters: ScryptParameters
    /// The number of hashes that run at once.
    public let threads: Int
    private let pool: NIOThreadPool
    private let scheduler: HashScheduler
    private let observer: (any PasswordHashObserver)?
    /// A well-formed hash of no password, so ``burnVerifyCost(_:)`` takes the very path of ``verify(_:against:)``.
    private let decoy: String

    /// One thread per core the process may use (cgroup limits included).
    public static var defaultThreadCount: Int { System.coreCount }

    /// Starts the pool; call ``shutdown()`` when done (a hasher dropped without it still stops its threads).
    public init(
        parameters: ScryptParameters = .owasp,
        threads: Int = PasswordHasher.defaultThreadCount,
        queue: HashQueueLimits = .defaults,
        observer: (any PasswordHashObserver)? = nil
    ) {
        precondition(threads >= 1, "PasswordHasher needs at least one thread, got \(threads)")
        self.parameters = parameters
        self.threads = threads
        self.pool = NIOThreadPool(numberOfThreads: threads)
        self.scheduler = HashScheduler(slots: threads, limits: queue)
        self.observer = observer
        self.decoy = ScryptPHC(
            parameters: parameters,
            salt: SecureRandom.bytes(ScryptPHC.saltLength),
            hash: SecureRandom.bytes(ScryptPHC.hashLength)
        ).encoded
        pool.start()
    }

    deinit {
        // Idempotent; keeps the pool's threads from outliving a hasher nobody shut down.
        pool.shutdownGracefully { _ in }
    }

    /// A new PHC string for `password` with a fresh random salt and the current ``parameters``.
    public func hash(_ password: String, for source: HashSource = .operator) async throws(PasswordHashError) -> String {
        let parameters = self.parameters
        let salt = SecureRandom.bytes(ScryptPHC.saltLength)
        let hash = try await run(for: source) { () throws(PasswordHashError) in
            try self.scrypt(password, salt: salt, parameters: parameters, length: ScryptPHC.hashLength)
        }
        return ScryptPHC(parameters: parameters, salt: salt, hash: hash).encoded
    }

    /// Constant-time comparison; needsRehash when the stored string's parameters differ from `parameters`.
    /// Hashes made with older parameters still verify (with their own parameters).
    public func verify(
        _ password: String,
        against phc: String,
        for source: HashSource = .operator
    ) async throws(PasswordHashError) -> PasswordVerification {
        let stored = try ScryptPHC(parsing: phc)
        let current = parameters
        return try await run(for: source) { () throws(PasswordHashError) -> PasswordVerification in
            let derived = try self.scrypt(
                password, salt: stored.salt, parameters: stored.parameters, length: stored.hash.count
            )
            guard ConstantTime.equals(derived, stored.hash) else { return .mismatch }
            return .match(needsRehash: stored.parameters != current)
        }
    }

    /// Costs one verify at the current parameters and returns nothing: used for unknown emails so timing does not reveal existence.
    /// Throws only when the queue is full, as `verify` would for a known account.
    public func burnVerifyCost(_ password: String, for source: HashSource = .operator) async throws(PasswordHashError) {
        do {
            _ = try await verify(password, against: decoy, for: source)
        } catch {
            if case .queueFull = error { throw error }
        }
    }

    /// Stops the pool after the hashes already queued; later calls fail with `hashingFailed`.
    public func shutdown() async {
        try? await pool.shutdownGracefully()
    }

    /// Raw scrypt (RFC 7914). Blocks the calling thread for the whole hash: request paths use
    /// ``hash(_:)`` and ``verify(_:against:)``; this is for tests and benchmarks, and hashes as
    /// they do (the work buffer kept by the thread).
    public static func scrypt(
        password: [UInt8],
        salt: [UInt8],
        parameters: ScryptParameters,
        length: Int
    ) throws(PasswordHashError) -> [UInt8] {
        try password.withUnsafeBufferPointer { password in
            derive(password: password, salt: salt, parameters: parameters, length: length, keepingUpTo: parameters.memoryBytes)
        }.get()
    }

    private func scrypt(
        _ password: String,
        salt: [UInt8],
        parameters: ScryptParameters,
        length: Int
    ) throws(PasswordHashError) -> [UInt8] {
        // Buffers up to the configured parameters' size stay with the thread; a stored hash
        // with larger ones gets its buffer for the one call.
        let keep = self.parameters.memoryBytes
        var password = password
        return try password.withUTF8 { password in
            Self.derive(password: password, salt: salt, parameters: parameters, length: length, keepingUpTo: keep)
        }.get()
    }

    /// scrypt = PBKDF2-HMAC-SHA256(P, ROMix(PBKDF2-HMAC-SHA256(P, S, 1, p·128·r)), 1, length):
    /// the two PBKDF2 steps through OpenSSL, ROMix in CScrypt over the thread's kept buffer.
    /// OpenSSL's EVP_PBE_scrypt maps, clears and unmaps 128·r·N bytes per hash; at the
    /// default 128 MiB its page faults were a fifth of a hashing thread's time.
    private static func derive(
        password: UnsafeBufferPointer<UInt8>,
        salt: [UInt8],
        parameters: ScryptParameters,
        length: Int,
        keepingUpTo keep: Int
    ) -> Result<[UInt8], PasswordHashError> {
        guard length >= 1, length <= Int(Int32.max) else {
            return .failure(.hashingFailed("key length must be in 1...\(Int32.max), got \(length)"))
        }
        guard password.count <= Int(Int32.max), salt.count <= Int(Int32.max) else {
            return .failure(.hashingFailed("password or salt too long for PBKDF2"))
        }
        let passwordBytes = password.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) }
        // Validation bounds 128·r·p below 2^31.
        var blocks = [UInt8](repeating: 0, count: 128 * parameters.r * parameters.p)
        defer { OPENSSL_cleanse(&blocks, blocks.count) }
        let expanded = blocks.withUnsafeMutableBufferPointer { blocks in
            PKCS5_PBKDF2_HMAC(
                passwordBytes, Int32(password.count), salt, Int32(salt.count), 1, EVP_sha256(),
                Int32(blocks.count), blocks.baseAddress
            )
        }
        guard expanded == 1 else {
            return .failure(.hashingFailed("PBKDF2 (\(parameters)) failed: \(OpenSSLError.drain())"))
        }
        let mixed = blocks.withUnsafeMutableBufferPointer { blocks in
            authd_scrypt_romix(blocks.baseAddress, parameters.r, UInt64(parameters.n), parameters.p, keep)
        }
        guard mixed == 0 else {
            return .failure(.hashingFailed("scrypt (\(parameters)) could not allocate \(parameters.memoryBytes) bytes"))
        }
        var failure: String?
        let key = [UInt8](unsafeUninitializedCapacity: length) { key, initialized in
            let status = PKCS5_PBKDF2_HMAC(
                passwordBytes, Int32(password.count), blocks, Int32(blocks.count), 1, EVP_sha256(),
                Int32(length), key.baseAddress
            )
            initialized = status == 1 ? length : 0
            if status != 1 { failure = OpenSSLError.drain() }
        }
        if let failure { return .failure(.hashingFailed("PBKDF2 (\(parameters)) failed: \(failure)")) }
        return .success(key)
    }

    /// Hashes waiting for a thread now.
    public var waiting: Int { scheduler.waiting }

    /// Runs `work` on the pool in `source`'s turn, translating the pool's errors into
    /// ``PasswordHashError``.
    private func run<T: Sendable>(
        for source: HashSource,
        _ work: @escaping @Sendable () throws(PasswordHashError) -> T
    ) async throws(PasswordHashError) -> T {
        let entered = ContinuousClock.now
        do {
            try await scheduler.enter(source)
        } catch {
            if case .queueFull = error { observer?.refused() }
            throw error
        }
        let started = ContinuousClock.now
        defer {
            let took = ContinuousClock.now - started
            scheduler.leave(source, took: took)
            observer?.hashed(waited: started - entered, took: took)
        }
        do {
            return try await pool.runIfActive { try work() }
        } catch let error as PasswordHashError {
            throw error
        } catch is CancellationError where Task.isCancelled {
            throw .hashingFailed("cancelled before the hash ran")
        } catch is CancellationError, is NIOThreadPoolError.ThreadPoolInactive {
            // The pool cancels work it will never run only when it is stopped.
            throw .hashingFailed("the password hasher has been shut down")
        } catch {
            throw .hashingFailed("\(error)")
        }
    }
}
