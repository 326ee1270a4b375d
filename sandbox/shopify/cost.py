"""Shopify's calculated query cost and the leaky bucket that throttles on it.

Cost rules (shopify.dev, "GraphQL Admin API rate limits"): scalars and enums cost 0, objects 1,
a connection 2 plus `first` (or `last`) times the cost of one node, a mutation 10. The
requested cost is computed from the query before execution and must fit in the bucket; after
execution the actual cost is computed from what was returned and the difference is refunded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLIncludeDirective,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSkipDirective,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_directive_values,
    get_named_type,
    is_leaf_type,
)
from graphql.execution.values import get_argument_values

MAX_QUERY_COST = 1000
MUTATION_COST = 10
BUCKET_SIZE = 2000.0
RESTORE_RATE = 100.0

Fields = dict[str, list[FieldNode]]


def collect(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    variables: dict[str, Any],
) -> Fields:
    """Fields selected by response key, with fragments expanded and @skip/@include applied."""
    fields: Fields = {}

    def walk(selections: SelectionSetNode | None) -> None:
        for node in selections.selections if selections else ():
            if get_directive_values(GraphQLSkipDirective, node, variables) == {"if": True}:
                continue
            if get_directive_values(GraphQLIncludeDirective, node, variables) == {"if": False}:
                continue
            if isinstance(node, FieldNode):
                key = node.alias.value if node.alias else node.name.value
                fields.setdefault(key, []).append(node)
            elif isinstance(node, FragmentSpreadNode):
                fragment = fragments.get(node.name.value)
                walk(fragment.selection_set if fragment else None)
            else:
                walk(node.selection_set)

    walk(selection_set)
    return fields


def collect_all(
    nodes: list[FieldNode],
    fragments: dict[str, FragmentDefinitionNode],
    variables: dict[str, Any],
) -> Fields:
    """The merged sub-selection of every node of one response key."""
    merged: Fields = {}
    for node in nodes:
        for key, found in collect(node.selection_set, fragments, variables).items():
            merged.setdefault(key, []).extend(found)
    return merged


class QueryCost:
    """Requested and actual cost of one operation of a validated document."""

    def __init__(self, schema: GraphQLSchema, document: DocumentNode, variables: dict) -> None:
        self.schema = schema
        self.variables = variables
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }

    def _sub(self, nodes: list[FieldNode]) -> Fields:
        return collect_all(nodes, self.fragments, self.variables)

    def requested(self, operation: OperationDefinitionNode) -> int:
        return self._operation(operation, None)

    def actual(self, operation: OperationDefinitionNode, data: dict | None) -> int:
        return self._operation(operation, data or {})

    def _operation(self, operation: OperationDefinitionNode, data: dict | None) -> int:
        fields = collect(operation.selection_set, self.fragments, self.variables)
        if operation.operation == OperationType.MUTATION:
            return MUTATION_COST * len(fields)
        root = self.schema.get_root_type(operation.operation)
        return self._selection(root, fields, data) if root else 0  # type: ignore[arg-type]

    def _selection(self, parent: GraphQLObjectType, fields: Fields, data: dict | None) -> int:
        """Cost of a selection; `data` is None when estimating, else the returned values."""
        total = 0
        for key, nodes in fields.items():
            field_def = parent.fields.get(nodes[0].name.value)
            if field_def is None:
                continue
            named = get_named_type(field_def.type)
            if is_leaf_type(named):
                continue
            value = None if data is None else data.get(key)
            if data is not None and value is None:
                continue
            sub = self._sub(nodes)
            if named.name.endswith("Connection"):
                total += self._connection(named, sub, field_def, nodes[0], value, data is None)
            else:
                total += 1 + self._selection(named, sub, value)  # type: ignore[arg-type]
        return total

    def _connection(
        self, conn: Any, sub: Fields, field_def: Any, node: FieldNode, value: Any, estimate: bool
    ) -> int:
        branches = list(self._node_branches(conn, sub, value))
        if estimate:
            args = get_argument_values(field_def, node, self.variables)
            size = args.get("first") if args.get("first") is not None else args.get("last")
            per_node = max((1 + self._selection(t, f, None) for t, f, _ in branches), default=0)
            return 2 + (size or 0) * per_node
        count = max((len(items) for _, _, items in branches), default=0)
        total = 2
        for index in range(count):
            total += max(
                1 + self._selection(t, f, items[index])
                for t, f, items in branches
                if index < len(items)
            )
        return total

    def _node_branches(
        self, conn: Any, sub: Fields, value: Any
    ) -> Iterator[tuple[Any, Fields, list[Any]]]:
        """Each way the query reaches the connection's nodes (`nodes`, `edges { node }`)."""
        node_type = get_named_type(conn.fields["nodes"].type)
        for key, nodes in sub.items():
            name = nodes[0].name.value
            if name == "nodes":
                yield node_type, self._sub(nodes), (value or {}).get(key) or []
            elif name == "edges":
                edges = (value or {}).get(key) or []
                for edge_key, edge_nodes in self._sub(nodes).items():
                    if edge_nodes[0].name.value == "node":
                        items = [e.get(edge_key) for e in edges]
                        yield node_type, self._sub(edge_nodes), items


class LeakyBucket:
    """Shopify's cost bucket: drains by query cost, refills continuously at the restore rate."""

    def __init__(self, maximum: float, restore_rate: float, clock: Callable[[], float]) -> None:
        self.maximum = maximum
        self.restore_rate = restore_rate
        self._clock = clock
        self._available = maximum
        self._stamp = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(now - self._stamp, 0.0)
        self._available = min(self.maximum, self._available + elapsed * self.restore_rate)
        self._stamp = now

    def try_take(self, cost: int) -> bool:
        """Take `cost` points if the bucket holds them; False (nothing taken) otherwise."""
        with self._lock:
            self._refill()
            if cost > self._available:
                return False
            self._available -= cost
            return True

    def refund(self, points: int) -> None:
        with self._lock:
            self._refill()
            self._available = min(self.maximum, self._available + points)

    def status(self) -> dict[str, Any]:
        """`throttleStatus` as Shopify reports it (floats for the limits, int for the level)."""
        with self._lock:
            self._refill()
            return {
                "maximumAvailable": float(self.maximum),
                "currentlyAvailable": int(self._available),
                "restoreRate": float(self.restore_rate),
            }
