// Package openbadges is the Open Badges 3.0 / Verifiable Credentials 2.0
// model Laurel publishes, and its Data Integrity signing: the credential,
// issuer Profile, Achievement and BitstringStatusList documents; the pinned
// JSON-LD contexts they are signed against (embedded, never fetched); RDF
// canonicalisation (RDFC-1.0); the eddsa-rdfc-2022 cryptosuite; Ed25519
// Multikey encoding. It has no database and no HTTP and owns no table:
// issuance/signing keeps the keys and signs, issuance/public serves the
// documents.
//
// Canonicalisation has two paths. Canonical runs the general JSON-LD to RDF
// conversion and RDFC-1.0 of piprate/json-gold over the pinned contexts; it
// is exact but costs milliseconds. Credential.NQuads writes the N-Quads of
// Laurel's one credential shape directly (the RDF terms are fixed by the
// pinned contexts) and labels its blank nodes as RDFC-1.0 does; tests prove
// it equal to the general path, and Sign uses it, so signing a credential
// costs well under a millisecond.
package openbadges
