"""Walk a pydantic error location back to the YAML node it names, to report file:line:column.

A pydantic location mixes keys of the document with parts the document does not have: the tag of a
discriminated union (`sources, 1, "csv", "key"`) and the `[key]` of a mapping key. Walking the model's
types beside the nodes tells which is which, and gives the fields a model accepts at any location (for
"did you mean" hints).
"""

from __future__ import annotations

import contextlib
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from pilotgate.spec.checks import Loc

_NONE = type(None)


@dataclass(frozen=True)
class Place:
    """Where a location lands in the document."""

    line: int | None
    """1-based line of the deepest node found, or None when the document has no positions."""
    column: int | None
    """1-based column of that node."""


def _strip(tp: Any) -> Any:
    """Remove Annotated wrappers and a `None` member, keeping what a value is validated as."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
            continue
        if origin in (typing.Union, types.UnionType):
            members = [arg for arg in typing.get_args(tp) if arg is not _NONE]
            if len(members) == 1:
                tp = members[0]
                continue
        return tp


def _union_models(tp: Any) -> list[type[BaseModel]]:
    """The model classes of a union of models (a discriminated union), else an empty list."""
    if typing.get_origin(tp) not in (typing.Union, types.UnionType):
        return []
    members = [_strip(arg) for arg in typing.get_args(tp) if arg is not _NONE]
    if all(isinstance(member, type) and issubclass(member, BaseModel) for member in members):
        return members
    return []


def _discriminator(tp: Any) -> str | None:
    """The discriminator field named in an `Annotated[..., Field(discriminator=...)]`, if any."""
    while typing.get_origin(tp) is typing.Annotated:
        for meta in typing.get_args(tp)[1:]:
            if isinstance(meta, FieldInfo) and isinstance(meta.discriminator, str):
                return meta.discriminator
        tp = typing.get_args(tp)[0]
    return None


def _tag_values(model: type[BaseModel], discriminator: str) -> tuple[Any, ...]:
    field = model.model_fields.get(discriminator)
    if field is None or typing.get_origin(field.annotation) is not typing.Literal:
        return ()
    return typing.get_args(field.annotation)


@dataclass(frozen=True)
class _Step:
    part: str | int
    in_document: bool
    type_after: Any


def _walk_types(root: type[BaseModel], loc: Loc) -> list[_Step]:
    """Follow *loc* through the model's types, marking the parts that are union tags or key markers."""
    steps: list[_Step] = []
    tp: Any = root
    for part in loc:
        if part == "[key]":  # pydantic's marker for "the key itself", after the key
            steps.append(_Step(part, False, None))
            tp = None
            continue
        discriminator = _discriminator(tp)
        tp = _strip(tp)
        variants = _union_models(tp)
        if variants and discriminator:
            chosen = next((m for m in variants if part in _tag_values(m, discriminator)), None)
            if chosen is not None:
                steps.append(_Step(part, False, chosen))
                tp = chosen
                continue
        origin = typing.get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(part) if isinstance(part, str) else None
            tp = field.annotation if field is not None else None
            steps.append(_Step(part, True, tp))
        elif origin is list and isinstance(part, int):
            tp = typing.get_args(tp)[0]
            steps.append(_Step(part, True, tp))
        elif origin is dict:
            tp = typing.get_args(tp)[1]
            steps.append(_Step(part, True, tp))
        else:
            steps.append(_Step(part, True, None))
            tp = None
    return steps


def document_loc(root: type[BaseModel], loc: Loc) -> tuple[str | int, ...]:
    """*loc* without the parts the document does not spell (union tags, `[key]`)."""
    return tuple(step.part for step in _walk_types(root, loc) if step.in_document)


@dataclass(frozen=True)
class Fields:
    """What the model accepts at one location."""

    model: type[BaseModel] | None
    """The model validating the mapping there, or None when it is not a model."""
    names: list[str]
    """Its field names, in declaration order."""
    discriminator: str | None = None
    """When the model is one variant of a union: the field that picks the variant."""
    others: tuple[tuple[Any, list[str]], ...] = ()
    """The other variants, as (tag, field names)."""


def fields_at(root: type[BaseModel], loc: Loc) -> Fields:
    """The fields the model accepts at *loc*, and the other variants when it is one of a union."""
    steps = _walk_types(root, loc)
    tp = _strip(steps[-1].type_after) if steps else root
    if not (isinstance(tp, type) and issubclass(tp, BaseModel)):
        return Fields(model=None, names=[])
    discriminator: str | None = None
    others: list[tuple[Any, list[str]]] = []
    if len(steps) >= 2 and not steps[-1].in_document:
        union = steps[-2].type_after
        discriminator = _discriminator(union)
        for variant in _union_models(_strip(union)):
            if variant is not tp and discriminator:
                for tag in _tag_values(variant, discriminator):
                    others.append((tag, list(variant.model_fields)))
    return Fields(model=tp, names=list(tp.model_fields), discriminator=discriminator, others=tuple(others))


def union_tags(root: type[BaseModel], loc: Loc) -> list[Any]:
    """The tags a discriminated union at *loc* accepts (empty when there is no union there)."""
    steps = _walk_types(root, loc)
    union = steps[-1].type_after if steps else root
    discriminator = _discriminator(union)
    if discriminator is None:
        return []
    return [tag for variant in _union_models(_strip(union)) for tag in _tag_values(variant, discriminator)]


def _position(pair: tuple[int, int] | None) -> tuple[int | None, int | None]:
    if pair is None:
        return None, None
    return pair[0] + 1, pair[1] + 1


def _node_start(node: Any) -> tuple[int, int] | None:
    if isinstance(node, CommentedMap | CommentedSeq):
        return node.lc.line, node.lc.col
    return None


def locate(document: Any, path: Sequence[str | int]) -> Place:
    """The line and column of the node at *path* (document keys and indexes), or of its deepest ancestor.

    A key in a mapping is reported at the key, a list item at the item: that is where a user looks.
    """
    node = document
    here = _node_start(document)
    for part in path:
        if isinstance(node, CommentedMap) and not isinstance(part, bool) and part in node:
            with contextlib.suppress(KeyError):  # a key merged in with `<<:` has no position here
                here = node.lc.key(part)
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
            with contextlib.suppress(KeyError, IndexError):
                here = node.lc.item(part)
            node = node[part]
        else:
            break
    line, column = _position(here)
    return Place(line=line, column=column)
