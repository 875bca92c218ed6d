"""The TAXII 2.1 edge (docs/taxii.md): members connect their threat-intelligence
platforms with nothing but a TAXII client.

    server     discovery, api root, collections, objects, manifest, versions, status
    posting    a posted envelope -> one submission (all or nothing)
    feedback   sightings and opinions -> native answers; the feedback listing
    stix       STIX 2.1 in and out, through the OASIS stix2 library
    query      filters and the caller-bound `next`
"""

from broker.taxii.server import API_ROOT, MEDIA_TYPE, create_taxii_app

__all__ = ["API_ROOT", "MEDIA_TYPE", "create_taxii_app"]
