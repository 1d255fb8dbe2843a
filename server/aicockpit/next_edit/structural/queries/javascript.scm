; JavaScript only.
(formal_parameters (_) @definition)
(class_declaration name: (identifier) @definition.outer)
(field_definition property: (property_identifier) @member.definition)
