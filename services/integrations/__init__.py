"""One package per external service (numista/, pokemontcg/, discogs/): its API boundary, catalogue cache,
mapping of our items to its payloads and its pusher. The generic modules (store, collection, pricing, sync,
importers, http) reach an integration only through ``services.integrations.registry``."""
