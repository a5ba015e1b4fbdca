"""Opaque CEL types of the Kubernetes dialect (Quantity, URL, IP, CIDR, Semver, ...).

cel-expr-python cannot carry Python objects of an abstract type through cel-cpp, but it does
carry protobuf messages. Each Kubernetes opaque type is therefore a one-field message whose
full name is the type name cel-go reports (``type(quantity("1")) == kubernetes.Quantity``) and
whose single string field holds the value in canonical form, so that message equality is the
value equality cel-go implements. Field selection on these messages and literal construction
are rejected at compile time (see ``validators.py``), so the field is never visible to users.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from cel_expr_python import cel
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

VALUE_FIELD = "celgate_value"

# Full CEL type names, as cel-go declares them in k8s.io/apiserver/pkg/cel/library.
OPAQUE_TYPE_NAMES: tuple[str, ...] = (
    "kubernetes.Quantity",
    "kubernetes.URL",
    "kubernetes.Semver",
    "kubernetes.NamedFormat",
    "net.IP",
    "net.CIDR",
    "kubernetes.authorization.Authorizer",
    "kubernetes.authorization.PathCheck",
    "kubernetes.authorization.GroupCheck",
    "kubernetes.authorization.ResourceCheck",
    "kubernetes.authorization.Decision",
    "kubernetes.authorization.FieldSelector",
    "kubernetes.authorization.LabelSelector",
)


def _build_pool() -> descriptor_pool.DescriptorPool:
    pool = descriptor_pool.DescriptorPool()
    by_package: dict[str, list[str]] = {}
    for full_name in OPAQUE_TYPE_NAMES:
        package, _, message = full_name.rpartition(".")
        by_package.setdefault(package, []).append(message)
    for package, messages in sorted(by_package.items()):
        file_proto = descriptor_pb2.FileDescriptorProto(
            name=f"celgate/{package.replace('.', '/')}.proto", package=package, syntax="proto3"
        )
        for message in messages:
            msg = file_proto.message_type.add(name=message)
            msg.field.add(
                name=VALUE_FIELD,
                number=1,
                type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
                label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
            )
        pool.Add(file_proto)
    return pool


POOL = _build_pool()


@dataclass(frozen=True)
class OpaqueType:
    """One opaque Kubernetes CEL type: its CEL type, its message class and how it prints."""

    name: str
    cel_type: cel.Type
    message_class: type
    to_string: Callable[[str], str]

    def wrap(self, canonical: str) -> Any:
        """The CEL value holding ``canonical``."""
        return self.message_class(**{VALUE_FIELD: canonical})

    @staticmethod
    def unwrap(message: Any) -> str:
        return getattr(message, VALUE_FIELD)


def _identity(value: str) -> str:
    return value


_REGISTRY: dict[str, OpaqueType] = {}


def opaque_type(name: str, to_string: Callable[[str], str] = _identity) -> OpaqueType:
    """The registered opaque type ``name`` (one of OPAQUE_TYPE_NAMES)."""
    existing = _REGISTRY.get(name)
    if existing is not None:
        return existing
    if name not in OPAQUE_TYPE_NAMES:
        raise KeyError(f"unknown opaque CEL type {name!r}")
    descriptor = POOL.FindMessageTypeByName(name)
    created = OpaqueType(
        name=name,
        cel_type=cel.Type(name),
        message_class=message_factory.GetMessageClass(descriptor),
        to_string=to_string,
    )
    _REGISTRY[name] = created
    return created


def lookup_opaque(message: Any) -> OpaqueType | None:
    """The opaque type of a message returned by cel-cpp, or None if it is not one of ours."""
    descriptor = getattr(message, "DESCRIPTOR", None)
    if descriptor is None:
        return None
    return _REGISTRY.get(descriptor.full_name) or (
        opaque_type(descriptor.full_name) if descriptor.full_name in OPAQUE_TYPE_NAMES else None
    )
