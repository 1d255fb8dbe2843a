; Names shared by JavaScript and TypeScript (captures: see structural/names.py).

(program) @scope
(statement_block) @scope
(function_declaration) @scope
(function_expression) @scope
(generator_function_declaration) @scope
(arrow_function) @scope
(method_definition) @scope
(for_statement) @scope
(for_in_statement) @scope
(catch_clause) @scope

(function_declaration name: (identifier) @definition.outer)
(generator_function_declaration name: (identifier) @definition.outer)
(function_expression name: (identifier) @definition)

(arrow_function parameter: (identifier) @definition)
(lexical_declaration (variable_declarator name: (_) @definition.after)) @statement
(variable_declaration (variable_declarator name: (_) @definition))
(for_in_statement left: (_) @definition)
(catch_clause parameter: (_) @definition)
(import_specifier name: (identifier) @import.name)
(import_specifier name: (identifier) @definition !alias)
(import_specifier alias: (identifier) @definition)
(import_clause (identifier) @definition)
(namespace_import (identifier) @definition)

(object_pattern (shorthand_property_identifier_pattern) @pattern.name)
(pair_pattern value: (identifier) @pattern.name)
(array_pattern (identifier) @pattern.name)
(assignment_pattern left: (identifier) @pattern.name)
(rest_pattern (identifier) @pattern.name)
(object_assignment_pattern left: (shorthand_property_identifier_pattern) @pattern.name)

; Members of this inside a class.
(class_declaration) @member.scope
(class) @member.scope
(member_expression object: (this) property: (property_identifier) @member.reference)
(assignment_expression left: (member_expression object: (this) property: (property_identifier) @member.definition))
(method_definition name: (property_identifier) @member.definition)

(identifier) @reference
; `{name}` in an object literal uses the variable: renamed, it becomes `name: renamed`.
(shorthand_property_identifier) @reference.shorthand
