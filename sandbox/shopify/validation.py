"""GraphQL validation that reports errors in Shopify's shape (it runs graphql-ruby).

graphql-core does the validating; this module only changes how the most common mistakes are
worded so clients see what Shopify sends: "Field 'x' doesn't exist on type 'T'" with
`extensions.code` "undefinedField", a `path` that starts with the operation ("query Name"),
and so on. The remaining specified rules keep graphql-core's wording and gain graphql-ruby's
error code.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    ArgumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    OperationDefinitionNode,
    VariableNode,
    get_named_type,
    is_leaf_type,
    is_non_null_type,
    print_ast,
    specified_rules,
    value_from_ast,
)
from graphql.pyutils import Undefined
from graphql.validation import ASTValidationRule, ValidationContext, ValidationRule
from graphql.validation.rules.known_argument_names import KnownArgumentNamesOnDirectivesRule
from graphql.validation.rules.provided_required_arguments import (
    ProvidedRequiredArgumentsOnDirectivesRule,
)

# graphql-core rules replaced by ShopifyFieldRule (or their directive-only halves).
_REPLACED = {
    "FieldsOnCorrectTypeRule",
    "KnownArgumentNamesRule",
    "ProvidedRequiredArgumentsRule",
    "ScalarLeafsRule",
    "ValuesOfCorrectTypeRule",
}

# graphql-ruby's static-validation error codes for the rules kept from graphql-core.
_CODES = {
    "UniqueOperationNamesRule": "operationNotUnique",
    "LoneAnonymousOperationRule": "anonymousOperationNotAlone",
    "KnownTypeNamesRule": "undefinedType",
    "FragmentsOnCompositeTypesRule": "fragmentOnNonCompositeType",
    "VariablesAreInputTypesRule": "variableRequiresValidType",
    "UniqueFragmentNamesRule": "fragmentNotUnique",
    "KnownFragmentNamesRule": "undefinedFragment",
    "NoUnusedFragmentsRule": "useAndDefineFragment",
    "PossibleFragmentSpreadsRule": "cannotSpreadFragment",
    "NoFragmentCyclesRule": "infiniteLoop",
    "NoUndefinedVariablesRule": "variableNotDefined",
    "NoUnusedVariablesRule": "variableNotUsed",
    "KnownDirectivesRule": "undefinedDirective",
    "UniqueDirectivesPerLocationRule": "directiveNotUniqueForLocation",
    "UniqueArgumentNamesRule": "argumentNotUnique",
    "VariablesInAllowedPositionRule": "variableMismatch",
    "OverlappingFieldsCanBeMergedRule": "fieldConflict",
    "KnownArgumentNamesOnDirectivesRule": "argumentNotAccepted",
    "ProvidedRequiredArgumentsOnDirectivesRule": "missingRequiredArguments",
}


class ShopifyFieldRule(ValidationRule):
    """Unknown fields and arguments, missing arguments, bad selections and bad literals."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        self.path: list[str] = []
        self.fields: list[str] = []

    def _error(self, message: str, node: Any, extensions: dict[str, Any], *tail: str) -> None:
        path = [*self.path, *tail]
        self.report_error(GraphQLError(message, node, path=path, extensions=extensions))

    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
        kind = node.operation.value
        self.path.append(f"{kind} {node.name.value}" if node.name else kind)

    def leave_operation_definition(self, *_: Any) -> None:
        self.path.pop()

    def enter_fragment_definition(self, node: FragmentDefinitionNode, *_: Any) -> None:
        self.path.append(f"fragment {node.name.value}")

    def leave_fragment_definition(self, *_: Any) -> None:
        self.path.pop()

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        self.path.append(node.alias.value if node.alias else node.name.value)
        self.fields.append(node.name.value)
        parent, field_def = self.context.get_parent_type(), self.context.get_field_def()
        name = node.name.value
        if field_def is None:
            if parent is not None:
                self._error(
                    f"Field '{name}' doesn't exist on type '{parent.name}'",
                    node,
                    {"code": "undefinedField", "typeName": parent.name, "fieldName": name},
                )
            return
        for arg in node.arguments:
            if arg.name.value not in field_def.args:
                self._error(
                    f"Field '{name}' doesn't accept argument '{arg.name.value}'",
                    arg,
                    {
                        "code": "argumentNotAccepted",
                        "name": name,
                        "typeName": "Field",
                        "argumentName": arg.name.value,
                    },
                    arg.name.value,
                )
        given = {a.name.value for a in node.arguments}
        missing = [
            n
            for n, a in field_def.args.items()
            if is_non_null_type(a.type) and a.default_value is Undefined and n not in given
        ]
        if missing:
            self._error(
                f"Field '{name}' is missing required arguments: {', '.join(missing)}",
                node,
                {
                    "code": "missingRequiredArguments",
                    "className": "Field",
                    "name": name,
                    "arguments": ", ".join(missing),
                },
            )
        self._check_selections(node, field_def.type)

    def leave_field(self, *_: Any) -> None:
        self.path.pop()
        self.fields.pop()

    def _check_selections(self, node: FieldNode, field_type: Any) -> None:
        named = get_named_type(field_type)
        subject = f"field '{node.name.value}'"
        extensions = {"code": "selectionMismatch", "nodeName": subject, "typeName": named.name}
        if is_leaf_type(named) and node.selection_set:
            picked = ", ".join(f'"{print_ast(s)}"' for s in node.selection_set.selections)
            self._error(
                f"Selections can't be made on scalars ({subject} returns {field_type} "
                f"but has selections [{picked}])",
                node,
                extensions,
            )
        elif not is_leaf_type(named) and not node.selection_set:
            self._error(
                f"Field must have selections ({subject} returns {field_type} but has no "
                f"selections. Did you mean '{node.name.value} {{ ... }}'?)",
                node,
                extensions,
            )

    def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
        arg_def = self.context.get_argument()
        if arg_def is None or isinstance(node.value, VariableNode):
            return
        if value_from_ast(node.value, arg_def.type) is Undefined:
            owner = self.context.get_directive()
            kind, owner_name = ("Directive", owner.name) if owner else ("Field", self.fields[-1])
            self._error(
                f"Argument '{node.name.value}' on {kind} '{owner_name}' has an invalid value "
                f"({print_ast(node.value)}). Expected type '{arg_def.type}'.",
                node,
                {
                    "code": "argumentLiteralsIncompatible",
                    "typeName": kind,
                    "argumentName": node.name.value,
                },
                node.name.value,
            )


def _with_code(rule: type[ASTValidationRule], code: str) -> type[ASTValidationRule]:
    """The rule unchanged except that its errors carry graphql-ruby's error code."""

    def report_error(self: ASTValidationRule, error: GraphQLError) -> None:
        self.context.report_error(
            GraphQLError(error.message, error.nodes, extensions={"code": code})
        )

    return type(f"Shopify{rule.__name__}", (rule,), {"report_error": report_error})


SHOPIFY_RULES: tuple[type[ASTValidationRule], ...] = (
    ShopifyFieldRule,
    *(
        _with_code(rule, _CODES.get(rule.__name__, "validationError"))
        for rule in (
            *specified_rules,
            KnownArgumentNamesOnDirectivesRule,
            ProvidedRequiredArgumentsOnDirectivesRule,
        )
        if rule.__name__ not in _REPLACED
    ),
)
