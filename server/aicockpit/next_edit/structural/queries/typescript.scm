; TypeScript (and TSX) only: parameters wrap their pattern, types have names of their own.
(required_parameter pattern: (_) @definition)
(optional_parameter pattern: (_) @definition)
(class_declaration name: (type_identifier) @definition.outer)
(abstract_class_declaration name: (type_identifier) @definition.outer)
(interface_declaration name: (type_identifier) @definition.outer)
(type_alias_declaration name: (type_identifier) @definition.outer)
(enum_declaration name: (identifier) @definition.outer)
(type_parameter name: (type_identifier) @definition)
(abstract_class_declaration) @member.scope
(public_field_definition name: (property_identifier) @member.definition)
(type_identifier) @reference
