; Names in Rust (captures: see structural/names.py).

(source_file) @scope
(function_item) @scope
(closure_expression) @scope
(block) @scope
(match_arm) @scope
(for_expression) @scope
(if_expression) @scope
(while_expression) @scope

(function_item name: (identifier) @definition.outer)
(parameter pattern: (_) @definition)
(closure_parameters (identifier) @definition)
(closure_parameters (parameter pattern: (_) @definition))
(let_declaration pattern: (_) @definition.after) @statement
(for_expression pattern: (_) @definition)
(let_condition pattern: (_) @definition)
((match_arm pattern: (match_pattern . (identifier) @definition)) (#match? @definition "^[a-z_]"))
(match_arm pattern: (match_pattern . [(tuple_struct_pattern) (struct_pattern) (tuple_pattern) (slice_pattern)
  (or_pattern) (captured_pattern) (ref_pattern) (reference_pattern) (mut_pattern)] @definition))
(const_item name: (identifier) @definition)
(static_item name: (identifier) @definition)
(struct_item name: (type_identifier) @definition)
(enum_item name: (type_identifier) @definition)
(trait_item name: (type_identifier) @definition)
(type_item name: (type_identifier) @definition)
(use_declaration argument: (identifier) @definition)
(use_declaration argument: (scoped_identifier name: (identifier) @definition @import.name))
(use_list (identifier) @definition @import.name)
(use_list (scoped_identifier name: (identifier) @definition @import.name))
(use_as_clause path: (identifier) @import.name)
(use_as_clause path: (scoped_identifier name: (identifier) @import.name))
(use_as_clause alias: (identifier) @definition)

; Pattern names; capitalised ones are constants and enum variants (`None`), not bindings.
((tuple_pattern (identifier) @pattern.name) (#match? @pattern.name "^[a-z_]"))
((tuple_struct_pattern (identifier) @pattern.name) (#match? @pattern.name "^[a-z_]"))
((slice_pattern (identifier) @pattern.name) (#match? @pattern.name "^[a-z_]"))
((or_pattern (identifier) @pattern.name) (#match? @pattern.name "^[a-z_]"))
((match_pattern (identifier) @pattern.name) (#match? @pattern.name "^[a-z_]"))
(mut_pattern (identifier) @pattern.name)
(ref_pattern (identifier) @pattern.name)
(reference_pattern (identifier) @pattern.name)
(captured_pattern (identifier) @pattern.name)
(field_pattern pattern: (identifier) @pattern.name)

; Never a local variable: macro names, the last segment of a path, a struct literal's field.
(macro_invocation macro: (identifier) @ignore)
(scoped_identifier name: (identifier) @ignore)
(field_initializer field: (field_identifier) @ignore)
(identifier) @reference
(type_identifier) @reference
