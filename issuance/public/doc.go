// Package public serves what anyone may see of a published credential: its
// page (/c/:id), its files (the certificate PDF, the badge image with the
// signed credential baked in, the design images) and the public Open Badges
// documents (the signed credential, the issuer's DID document, Profile and
// keys, status lists, achievements), built on signing. It owns no table;
// it reads credentials through the issuance core and signatures through
// signing.
//
// Every error goes through the page renderer (web.Renderer.Page), except
// the machine-read documents, whose NotFound goes through the JSON one.
package public
