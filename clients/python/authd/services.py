"""Typed service stubs, built at import time from the descriptors of the
generated `auth/v1/*_pb2` modules: nothing here lists a service or a method
by hand, so a new RPC in proto/ shows up as soon as the modules are
regenerated."""

from __future__ import annotations

import importlib
import pkgutil
import re
from concurrent.futures import Future
from types import ModuleType
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Tuple, Type

from google.protobuf import descriptor as _descriptor
from google.protobuf.message import Message

import auth.v1

if TYPE_CHECKING:  # pragma: no cover
    from .client import Client


def snake_case(name: str) -> str:
    """`GetMe` -> `get_me`, `CreateApiKey` -> `create_api_key`."""
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return name.lower()


def _module_for_file(file: _descriptor.FileDescriptor) -> ModuleType:
    # "auth/v1/common.proto" -> auth.v1.common_pb2
    stem = file.name[: -len(".proto")] if file.name.endswith(".proto") else file.name
    return importlib.import_module(stem.replace("/", ".") + "_pb2")


def message_class(desc: _descriptor.Descriptor) -> Type[Message]:
    """The generated Python class of a message descriptor."""
    module = _module_for_file(desc.file)
    relative = desc.full_name
    if desc.file.package:
        relative = relative[len(desc.file.package) + 1 :]
    obj: Any = module
    for part in relative.split("."):
        obj = getattr(obj, part)
    return obj


def pb2_modules() -> List[ModuleType]:
    """Every generated module of package auth.v1, in name order."""
    names = sorted(
        info.name for info in pkgutil.iter_modules(auth.v1.__path__) if info.name.endswith("_pb2")
    )
    return [importlib.import_module(f"auth.v1.{name}") for name in names]


class MethodInfo:
    """One RPC: its path and its request and response classes."""

    def __init__(self, service: _descriptor.ServiceDescriptor, method: _descriptor.MethodDescriptor):
        self.service_name: str = service.full_name  # "auth.v1.Auth"
        self.name: str = method.name  # "Login"
        self.python_name: str = snake_case(method.name)  # "login"
        self.path: str = f"/{service.full_name}/{method.name}"  # "/auth.v1.Auth/Login"
        self.request_type: Type[Message] = message_class(method.input_type)
        self.response_type: Type[Message] = message_class(method.output_type)

    def __repr__(self) -> str:
        return (
            f"<{self.path}({self.request_type.DESCRIPTOR.full_name}) "
            f"-> {self.response_type.DESCRIPTOR.full_name}>"
        )


def all_services() -> Dict[str, Tuple[_descriptor.ServiceDescriptor, List[MethodInfo]]]:
    """snake_case service name ("auth", "admin", ...) -> (descriptor, methods)."""
    out: Dict[str, Tuple[_descriptor.ServiceDescriptor, List[MethodInfo]]] = {}
    for module in pb2_modules():
        for service in module.DESCRIPTOR.services_by_name.values():
            out[snake_case(service.name)] = (service, [MethodInfo(service, m) for m in service.methods])
    return out


class UnaryMethod:
    """A callable bound to a client: `client.auth.login(request)`.

    Call it with a request message, or with the request's fields as keyword
    arguments (`client.health.check(service="")`). `.future(...)` returns a
    concurrent.futures.Future instead of waiting; `.with_metadata(...)` returns
    (response, response metadata).
    """

    def __init__(self, client: "Client", info: MethodInfo):
        self._client = client
        self.info = info
        self.__name__ = info.python_name
        self.__doc__ = (
            f"{info.path}: {info.request_type.DESCRIPTOR.full_name} -> "
            f"{info.response_type.DESCRIPTOR.full_name}"
        )

    def _request(self, request: Optional[Message], fields: Dict[str, Any]) -> Message:
        rtype = self.info.request_type
        if request is None:
            return rtype(**fields)
        if fields:
            raise TypeError(f"{self.info.python_name}: pass a request message or fields, not both")
        if not isinstance(request, rtype):
            raise TypeError(
                f"{self.info.path} takes {rtype.DESCRIPTOR.full_name}, "
                f"not {type(request).__name__}"
            )
        return request

    def __call__(
        self,
        request: Optional[Message] = None,
        *,
        timeout: Optional[float] = None,
        metadata: Optional[Mapping[str, str]] = None,
        **fields: Any,
    ) -> Any:
        return self._client.call(
            self.info.path,
            self._request(request, fields),
            self.info.response_type,
            timeout=timeout,
            metadata=metadata,
        )

    def with_metadata(
        self,
        request: Optional[Message] = None,
        *,
        timeout: Optional[float] = None,
        metadata: Optional[Mapping[str, str]] = None,
        **fields: Any,
    ) -> Tuple[Any, Dict[str, str]]:
        return self._client.call_with_metadata(
            self.info.path,
            self._request(request, fields),
            self.info.response_type,
            timeout=timeout,
            metadata=metadata,
        )

    def future(
        self,
        request: Optional[Message] = None,
        *,
        timeout: Optional[float] = None,
        metadata: Optional[Mapping[str, str]] = None,
        **fields: Any,
    ) -> "Future[Any]":
        return self._client.call_future(
            self.info.path,
            self._request(request, fields),
            self.info.response_type,
            timeout=timeout,
            metadata=metadata,
        )

    def __repr__(self) -> str:
        return f"<method {self.info.python_name} {self.info!r}>"


class ServiceStub:
    """All methods of one service, as attributes in snake_case."""

    def __init__(self, client: "Client", descriptor: _descriptor.ServiceDescriptor, methods: List[MethodInfo]):
        self.descriptor = descriptor
        self.methods: Dict[str, UnaryMethod] = {}
        for info in methods:
            bound = UnaryMethod(client, info)
            self.methods[info.python_name] = bound
            setattr(self, info.python_name, bound)

    def __dir__(self) -> List[str]:
        return sorted(set(super().__dir__()) | set(self.methods))

    def __repr__(self) -> str:
        return f"<service {self.descriptor.full_name}: {', '.join(self.methods)}>"
