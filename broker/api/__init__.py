"""HTTP edge: one RouteTableDef per resource; handlers parse, call a service, respond."""
