; Names in Python: scopes, bindings and uses (captures: see structural/names.py).

(module) @scope
(function_definition) @scope
(lambda) @scope
[(list_comprehension) (set_comprehension) (dictionary_comprehension) (generator_expression)] @scope
; A class body's names are not visible in the functions nested in it.
(class_definition) @scope.class
; A parameter's default value is evaluated where the function is defined, outside it.
(default_parameter value: (_) @scope.outside)
(typed_default_parameter value: (_) @scope.outside)

(function_definition name: (identifier) @definition.outer)
(class_definition name: (identifier) @definition.outer)

(parameters (identifier) @definition)
(lambda_parameters (identifier) @definition)
(default_parameter name: (identifier) @definition)
(typed_parameter (identifier) @definition)
(typed_default_parameter name: (identifier) @definition)
(list_splat_pattern (identifier) @definition)
(dictionary_splat_pattern (identifier) @definition)

(assignment left: (_) @definition)
(augmented_assignment left: (identifier) @definition)
(for_statement left: (_) @definition)
(for_in_clause left: (_) @definition)
(as_pattern_target (identifier) @definition)
(named_expression name: (identifier) @definition)
(import_statement name: (dotted_name . (identifier) @definition))
(aliased_import alias: (identifier) @definition)
(import_from_statement name: (dotted_name . (identifier) @definition @import.name .))
(import_from_statement name: (aliased_import name: (dotted_name . (identifier) @import.name .)))

(pattern_list (identifier) @pattern.name)
(tuple_pattern (identifier) @pattern.name)
(list_pattern (identifier) @pattern.name)
(list_splat_pattern (identifier) @pattern.name)

; Attributes of self (and cls) inside a class, and its methods.
(class_definition) @member.scope
((attribute object: (identifier) @member.receiver attribute: (identifier) @member.reference)
  (#any-of? @member.receiver "self" "cls"))
((assignment left: (attribute object: (identifier) @member.receiver attribute: (identifier) @member.definition))
  (#any-of? @member.receiver "self" "cls"))
(class_definition body: (block (function_definition name: (identifier) @member.definition)))
(class_definition body: (block (decorated_definition definition: (function_definition name: (identifier) @member.definition))))

; Never a variable: another object's attribute, a keyword argument's name, a module path
; (the name an import binds is a definition: that wins).
(attribute attribute: (identifier) @ignore)
(dotted_name (identifier) @ignore)
(keyword_argument name: (identifier) @ignore)
(global_statement (identifier) @ignore)
(nonlocal_statement (identifier) @ignore)

(identifier) @reference
