"""The API fuzzer: schemathesis over `/openapi.json` against a real broker (`make fuzz-api`)."""

__all__: list[str] = []
