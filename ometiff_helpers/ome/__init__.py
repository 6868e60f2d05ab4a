"""OME-XML: safe streaming parser, frozen records, plain tables, units and schema validation."""
