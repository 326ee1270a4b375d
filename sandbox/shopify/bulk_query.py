"""What Shopify checks before accepting a bulk query, with Shopify's userError wording.

The query must parse, be a `query` operation and validate against the schema; then the
structural limits of bulk operations apply: at least one and at most five connections,
nesting at most two deep, connections read through `edges { node }` (not `nodes`), and the
parent node of a nested connection selecting `id` so child lines can name their `__parentId`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLObjectType,
    OperationDefinitionNode,
    OperationType,
    get_named_type,
    is_object_type,
    parse,
    validate,
)

from sandbox.shopify.cost import collect, collect_all
from sandbox.shopify.resolvers import executable_schema
from sandbox.shopify.validation import SHOPIFY_RULES

MAX_CONNECTIONS = 5
MAX_DEPTH = 2


def _user_error(message: str) -> dict[str, Any]:
    return {"field": ["query"], "message": message, "code": "INVALID"}


def check_bulk_query(text: str) -> tuple[DocumentNode | None, list[dict[str, Any]]]:
    """The parsed document, or the userErrors explaining why it cannot run in bulk."""
    try:
        document = parse(text)
    except GraphQLError as exc:
        return None, [_user_error(f"Invalid bulk query: {exc.message}")]
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if any(op.operation != OperationType.QUERY for op in operations):
        return None, [_user_error("Invalid operation type. Only `query` operations are supported.")]
    errors = validate(executable_schema(), document, SHOPIFY_RULES)
    if errors:
        return None, [_user_error(e.message) for e in errors]
    messages = _Shape(document).check(operations[0])
    return (None if messages else document), [_user_error(m) for m in messages]


@dataclass
class _Shape:
    """Walks a validated bulk query, recording its connections and how they are selected."""

    document: DocumentNode
    depths: list[int] = field(default_factory=list)
    via_nodes: list[str] = field(default_factory=list)
    without_id: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.fragments = {
            d.name.value: d
            for d in self.document.definitions
            if isinstance(d, FragmentDefinitionNode)
        }

    def check(self, operation: OperationDefinitionNode) -> list[str]:
        root_fields = collect(operation.selection_set, self.fragments, {})
        query_type = executable_schema().query_type
        self._walk(query_type, root_fields, 0)
        errors = []
        if self.via_nodes:
            listed = "', '".join(self.via_nodes)
            errors.append(
                "All connection fields in a bulk query must select their contents using "
                f"'edges' > 'node', e.g: '{self.via_nodes[0]} {{ edges {{ node {{'. Selecting "
                f"via 'nodes' is not supported. Invalid connection fields: '{listed}'."
            )
        if any(depth > MAX_DEPTH for depth in self.depths):
            errors.append(
                "Bulk queries cannot contain connections with a nesting depth greater than 2."
            )
        if len(self.depths) > MAX_CONNECTIONS:
            errors.append("Bulk queries cannot contain more than 5 connections.")
        if self.without_id:
            errors.append(
                "The parent 'node' field for a nested connection must select the 'id' field "
                "without an alias and must be of 'ID' return type. Connection fields without "
                f"'id': {', '.join(self.without_id)}."
            )
        if not self.depths:
            errors.append("Bulk queries must contain at least one connection.")
        elif not errors and not _single_root_connection(query_type, root_fields):
            # The sandbox runs a bulk query over one top-level connection, the shape Shopify's
            # guide describes; other shapes are refused rather than half-run.
            errors.append("Bulk queries must select a single top-level connection field.")
        return errors

    def _walk(
        self, parent: GraphQLObjectType, fields: dict[str, list[FieldNode]], depth: int
    ) -> None:
        for nodes in fields.values():
            field_def = parent.fields.get(nodes[0].name.value)
            named = get_named_type(field_def.type) if field_def else None
            if not is_object_type(named):
                continue
            sub = collect_all(nodes, self.fragments, {})
            if named.name.endswith("Connection"):
                self._connection(named, nodes[0].name.value, sub, depth + 1)
            else:
                self._walk(named, sub, depth)

    def _connection(
        self, conn: Any, name: str, sub: dict[str, list[FieldNode]], depth: int
    ) -> None:
        self.depths.append(depth)
        if any(nodes[0].name.value == "nodes" for nodes in sub.values()):
            self.via_nodes.append(name)
        node_type = get_named_type(conn.fields["nodes"].type)
        for edges in (nodes for nodes in sub.values() if nodes[0].name.value == "edges"):
            for edge_field in collect_all(edges, self.fragments, {}).values():
                if edge_field[0].name.value != "node":
                    continue
                selected = collect_all(edge_field, self.fragments, {})
                before = len(self.depths)
                self._walk(node_type, selected, depth)
                plain_id = "id" in selected and selected["id"][0].name.value == "id"
                if len(self.depths) > before and not plain_id:
                    self.without_id.append(name)


def _single_root_connection(query_type: Any, root_fields: dict[str, list[FieldNode]]) -> bool:
    if len(root_fields) != 1:
        return False
    [nodes] = root_fields.values()
    return get_named_type(query_type.fields[nodes[0].name.value].type).name.endswith("Connection")
