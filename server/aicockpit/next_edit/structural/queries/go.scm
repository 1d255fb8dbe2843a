; Names in Go (captures: see structural/names.py).

(source_file) @scope
(function_declaration) @scope
(method_declaration) @scope
(func_literal) @scope
(block) @scope
(if_statement) @scope
(for_statement) @scope
(expression_switch_statement) @scope
(type_switch_statement) @scope
(select_statement) @scope
[(expression_case) (type_case) (default_case) (communication_case)] @scope

(function_declaration name: (identifier) @definition.outer)
(parameter_declaration name: (identifier) @definition)
(variadic_parameter_declaration name: (identifier) @definition)
(source_file (var_declaration (var_spec name: (identifier) @definition)))
(source_file (const_declaration (const_spec name: (identifier) @definition)))
(source_file (type_declaration (type_spec name: (type_identifier) @definition)))
(block (statement_list (var_declaration (var_spec name: (identifier) @definition.after)) @statement))
(block (statement_list (const_declaration (const_spec name: (identifier) @definition.after)) @statement))
(block (statement_list (type_declaration (type_spec name: (type_identifier) @definition.after)) @statement))
; `a, err := f()` declares only the names not declared yet in the same scope.
(short_var_declaration left: (expression_list (identifier) @definition.redeclare)) @statement
(range_clause left: (expression_list (identifier) @definition))
(type_switch_statement alias: (expression_list (identifier) @definition))

; A composite literal's key may be a field name: never touched.
(keyed_element . (literal_element (identifier) @ignore))
(identifier) @reference
(type_identifier) @reference
