package openbadges

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/piprate/json-gold/ld"
)

// Context URLs Laurel's documents use. Their contents are pinned in
// contexts/ (tests check each file's SHA-256), so what a signature covers
// never depends on a server we do not run.
const (
	ContextVC2          = "https://www.w3.org/ns/credentials/v2"
	ContextOB303        = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
	ContextOBExtensions = "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json"
	ContextDID1         = "https://www.w3.org/ns/did/v1"
	ContextMultikey1    = "https://w3id.org/security/multikey/v1"
)

//go:embed contexts/*.json contexts/*.jsonld
var contextFS embed.FS

// contextFiles maps each pinned context URL to its file in contexts/.
var contextFiles = map[string]string{
	ContextVC2:          "contexts/credentials-v2.jsonld",
	ContextOB303:        "contexts/ob-context-3.0.3.json",
	ContextOBExtensions: "contexts/ob-extensions.json",
	ContextDID1:         "contexts/did-v1.jsonld",
	ContextMultikey1:    "contexts/multikey-v1.jsonld",
}

// Contexts returns the pinned contexts, URL → file bytes (for an offline
// document loader, such as the independent verifier's in tests).
func Contexts() map[string][]byte {
	out := make(map[string][]byte, len(contextFiles))
	for u, f := range contextFiles {
		b, err := contextFS.ReadFile(f)
		if err != nil {
			panic(err) // embedded at compile time
		}
		out[u] = b
	}
	return out
}

// Loader is a JSON-LD document loader that serves only the documents it
// holds and never touches the network: a context not pinned is an error,
// not a fetch.
type Loader struct {
	mu   sync.Mutex
	raw  map[string][]byte
	docs map[string]any
}

// NewLoader returns a loader holding the pinned contexts plus extra
// (URL → JSON document), for tests that need other documents.
func NewLoader(extra map[string][]byte) *Loader {
	l := &Loader{raw: Contexts(), docs: map[string]any{}}
	for u, b := range extra {
		l.raw[u] = b
	}
	return l
}

// LoadDocument implements ld.DocumentLoader.
func (l *Loader) LoadDocument(u string) (*ld.RemoteDocument, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if d, ok := l.docs[u]; ok {
		return &ld.RemoteDocument{DocumentURL: u, Document: d}, nil
	}
	b, ok := l.raw[u]
	if !ok {
		return nil, ld.NewJsonLdError(ld.LoadingDocumentFailed, fmt.Sprintf("document %s is not pinned (offline loader)", u))
	}
	d, err := ld.DocumentFromReader(bytes.NewReader(b))
	if err != nil {
		return nil, ld.NewJsonLdError(ld.LoadingDocumentFailed, fmt.Sprintf("pinned document %s: %v", u, err))
	}
	l.docs[u] = d
	return &ld.RemoteDocument{DocumentURL: u, Document: d}, nil
}

var defaultLoader = NewLoader(nil)

// Canonical returns the RDFC-1.0 (URDNA2015) canonical N-Quads of the
// JSON-LD document doc, expanded with loader (nil: the pinned contexts).
// This is the general path: exact for any document, but it expands every
// context on each call.
func Canonical(doc []byte, loader ld.DocumentLoader) (string, error) {
	if loader == nil {
		loader = defaultLoader
	}
	var in any
	if err := json.Unmarshal(doc, &in); err != nil {
		return "", fmt.Errorf("canonicalise: %w", err)
	}
	opts := ld.NewJsonLdOptions("")
	opts.Algorithm = ld.AlgorithmURDNA2015
	opts.Format = "application/n-quads"
	opts.DocumentLoader = loader
	opts.SafeMode = true
	out, err := ld.NewJsonLdProcessor().Normalize(in, opts)
	if err != nil {
		return "", fmt.Errorf("canonicalise: %w", err)
	}
	s, _ := out.(string)
	return s, nil
}
