package openbadges

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Fixed values of Laurel's documents.
const (
	// SchemaURL is the OB 3.0 AchievementCredential JSON Schema.
	SchemaURL  = "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json"
	SchemaType = "1EdTechJsonSchemaValidator2019"
	// StatusListSize is the number of entries of one status list: the
	// 16 KiB minimum the Bitstring Status List spec sets for herd privacy.
	StatusListSize = 131072
)

// CredentialContext is the @context of every credential Laurel signs, in
// this order: VC 2.0 first, then OB 3.0.3, then the 1EdTech extensions that
// define the credentialSchema type.
var CredentialContext = []string{ContextVC2, ContextOB303, ContextOBExtensions}

// Image is an OB Image object (never a bare string: verifiers want the object).
type Image struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

// Criteria says what earns an achievement.
type Criteria struct {
	Narrative string `json:"narrative"`
}

// Achievement is an OB 3.0 Achievement: what a group recognises.
type Achievement struct {
	Context         []string `json:"@context,omitempty"` // only when published on its own
	ID              string   `json:"id"`
	Type            []string `json:"type"`
	AchievementType string   `json:"achievementType"`
	Name            string   `json:"name"`
	Description     string   `json:"description"`
	Criteria        Criteria `json:"criteria"`
	Image           *Image   `json:"image,omitempty"`
	// ResultDescription describes each result a credential of the
	// achievement may carry (a grade, a score).
	ResultDescription []ResultDescription `json:"resultDescription,omitempty"`
}

// ResultDescription is an OB 3.0 ResultDescription: one kind of result of
// an achievement. Its id is a stable URI under the achievement's, which a
// Result names.
type ResultDescription struct {
	ID         string   `json:"id"`
	Type       []string `json:"type"`
	Name       string   `json:"name"`
	ResultType string   `json:"resultType"` // an OB 3.0 ResultType, e.g. LetterGrade
}

// Result is an OB 3.0 Result: the recipient's value of one of the
// achievement's ResultDescriptions.
type Result struct {
	Type              []string `json:"type"`
	ResultDescription string   `json:"resultDescription"`
	Value             string   `json:"value"`
}

// Profile is an OB 3.0 Profile: the issuing organisation.
type Profile struct {
	Context []string `json:"@context,omitempty"` // only when published on its own
	ID      string   `json:"id"`
	Type    []string `json:"type"`
	Name    string   `json:"name"`
	URL     string   `json:"url"`
	Image   *Image   `json:"image,omitempty"`
}

// IdentityObject identifies the recipient without an id: the salted hash of
// the email address, and the name in plain text (identityType ext:name, the
// spec's recommended practice, since AchievementSubject has no name field).
type IdentityObject struct {
	Type         string `json:"type"`
	IdentityHash string `json:"identityHash"`
	IdentityType string `json:"identityType"`
	Hashed       bool   `json:"hashed"`
	Salt         string `json:"salt,omitempty"`
}

// Subject is the AchievementSubject of a credential. ID is empty on the
// published credential (the recipient is identified by email hash) and is
// the holder's DID on a copy claimed into a wallet.
type Subject struct {
	ID          string           `json:"id,omitempty"`
	Type        []string         `json:"type"`
	Identifier  []IdentityObject `json:"identifier"`
	Achievement Achievement      `json:"achievement"`
	Result      []Result         `json:"result,omitempty"`
}

// Schema is a credentialSchema entry.
type Schema struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

// StatusEntry is a BitstringStatusListEntry.
type StatusEntry struct {
	ID                   string `json:"id"`
	Type                 string `json:"type"`
	StatusPurpose        string `json:"statusPurpose"`
	StatusListIndex      string `json:"statusListIndex"`
	StatusListCredential string `json:"statusListCredential"`
}

// Credential is an OpenBadgeCredential as Laurel issues it: one shape, so
// its RDF can be written directly (see NQuads).
type Credential struct {
	Context           []string    `json:"@context"`
	ID                string      `json:"id"`
	Type              []string    `json:"type"`
	Issuer            Profile     `json:"issuer"`
	ValidFrom         string      `json:"validFrom"`
	ValidUntil        string      `json:"validUntil,omitempty"`
	Name              string      `json:"name"`
	CredentialSubject Subject     `json:"credentialSubject"`
	CredentialSchema  []Schema    `json:"credentialSchema"`
	CredentialStatus  StatusEntry `json:"credentialStatus"`
	Proof             *Proof      `json:"proof,omitempty"`
}

// Recipient is what a credential says about its holder.
type Recipient struct {
	Email, Name string
	Salt        string // random or derived per credential; never empty
}

// EmailHash is the OB identityHash of an email address with salt:
// "sha256$" and the hex SHA-256 of the lower-cased address followed by the
// salt.
func EmailHash(email, salt string) string {
	h := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(email)) + salt))
	return "sha256$" + hex.EncodeToString(h[:])
}

// NewCredential assembles a credential (without proof). Its results, if
// any, are set on CredentialSubject.Result, each naming one of a's
// ResultDescriptions.
func NewCredential(id string, issuer Profile, a Achievement, r Recipient, validFrom, validUntil string, status StatusEntry) Credential {
	issuer.Context = nil
	a.Context = nil
	return Credential{
		Context:    CredentialContext,
		ID:         id,
		Type:       []string{"VerifiableCredential", "OpenBadgeCredential"},
		Issuer:     issuer,
		ValidFrom:  validFrom,
		ValidUntil: validUntil,
		Name:       a.Name,
		CredentialSubject: Subject{
			Type: []string{"AchievementSubject"},
			Identifier: []IdentityObject{
				{Type: "IdentityObject", IdentityHash: EmailHash(r.Email, r.Salt), IdentityType: "emailAddress", Hashed: true, Salt: r.Salt},
				{Type: "IdentityObject", IdentityHash: r.Name, IdentityType: "ext:name", Hashed: false},
			},
			Achievement: a,
		},
		CredentialSchema: []Schema{{ID: SchemaURL, Type: SchemaType}},
		CredentialStatus: status,
	}
}
