"""MISP interoperability: the feed a member's MISP pulls, MISP events submitted
as items, MISP sightings as answers (docs/misp.md). One more edge over the same
services: what a feed holds is what `GET /v1/items/{id}` would open."""
