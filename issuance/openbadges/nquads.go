package openbadges

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/laurel-edu/laurel/internal/text"
)

// RDF terms of the credential shape under the pinned contexts (VC 2.0, OB
// 3.0.3, extensions). TestNQuadsMatchGeneral proves them against the
// general JSON-LD expansion.
const (
	rdfType   = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
	ob        = "https://purl.imsglobal.org/spec/vc/ob/vocab.html#"
	cred      = "https://www.w3.org/2018/credentials#"
	status    = "https://www.w3.org/ns/credentials/status#"
	schemaOrg = "https://schema.org/"
	xsdDate   = "<http://www.w3.org/2001/XMLSchema#dateTime>"
	// The OB context maps xsd: to https://..., so its typed values carry
	// that (odd, but what every verifier computes from the same context).
	obXSD = "https://www.w3.org/2001/XMLSchema#"
)

// ErrControlChar refuses text a credential may not carry: text that is not
// storable text under Laurel's one rule (internal/text.Check), so the
// credential carries nothing a form, an import or the API could not have
// stored, and nothing the canonical form would not carry the same way in
// every implementation.
var ErrControlChar = errors.New("text contains a control character")

func literal(s string) (string, error) {
	if text.Check(s) != nil {
		return "", ErrControlChar
	}
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String(), nil
}

// notInIRI marks the bytes an IRI cannot hold: all are ASCII, so a byte
// test is a rune test (every byte of a multi-byte rune is 0x80 or above).
var notInIRI = func() (t [256]bool) {
	for c := range 0x21 {
		t[c] = true
	}
	for _, c := range []byte(`<>"{}|^` + "`\\") {
		t[c] = true
	}
	return t
}()

func iri(s string) (string, error) {
	for i := 0; i < len(s); i++ {
		if notInIRI[s[i]] {
			return "", fmt.Errorf("IRI %q has a character IRIs cannot hold", s)
		}
	}
	if s == "" || !strings.Contains(s, ":") {
		return "", fmt.Errorf("IRI %q is not absolute", s)
	}
	return "<" + s + ">", nil
}

// quadWriter collects N-Quads lines of the default graph; subjects and
// objects starting "_:" are blank nodes to be relabelled.
type quadWriter struct {
	lines [][3]string
	err   error
}

func (w *quadWriter) add(s, p, o string) {
	w.lines = append(w.lines, [3]string{s, p, o})
}

func (w *quadWriter) iri(s string) string {
	v, err := iri(s)
	if err != nil && w.err == nil {
		w.err = err
	}
	return v
}

func (w *quadWriter) lit(s string) string {
	v, err := literal(s)
	if err != nil && w.err == nil {
		w.err = err
	}
	return v
}

func (w *quadWriter) typed(s, datatype string) string { return w.lit(s) + "^^" + datatype }

// image writes an Image object's node and returns its IRI.
func (w *quadWriter) image(img *Image) string {
	id := w.iri(img.ID)
	w.add(id, rdfType, "<"+ob+"Image>")
	return id
}

// NQuads returns the canonical (RDFC-1.0) N-Quads of c without its proof,
// written directly from Laurel's credential shape instead of expanding the
// JSON-LD: the result equals Canonical(json of c) for every credential (the
// tests check it against the general path), at a small fraction of the cost.
func (c *Credential) NQuads() (string, error) {
	l, err := c.nquads()
	if err != nil {
		return "", err
	}
	return l.String(), nil
}

// sortedLines are canonical N-Quads: the spans of buf, in order. Sign
// hashes them where they lie; NQuads joins them.
type sortedLines struct {
	buf   []byte
	spans [][2]int
}

func (l sortedLines) String() string {
	n := 0
	for _, sp := range l.spans {
		n += sp[1] - sp[0]
	}
	var b strings.Builder
	b.Grow(n)
	for _, sp := range l.spans {
		b.Write(l.buf[sp[0]:sp[1]])
	}
	return b.String()
}

// sum is the SHA-256 of the N-Quads.
func (l sortedLines) sum() [sha256.Size]byte {
	h := sha256.New()
	for _, sp := range l.spans {
		h.Write(l.buf[sp[0]:sp[1]])
	}
	var s [sha256.Size]byte
	h.Sum(s[:0])
	return s
}

// nquads is NQuads before its lines are joined.
func (c *Credential) nquads() (sortedLines, error) {
	if !slices.Equal(c.Context, CredentialContext) {
		return sortedLines{}, errors.New("nquads: credential has another @context")
	}
	w := &quadWriter{lines: make([][3]string, 0, 48)}
	id := w.iri(c.ID)
	for _, t := range c.Type {
		switch t {
		case "VerifiableCredential":
			w.add(id, rdfType, "<"+cred+"VerifiableCredential>")
		case "OpenBadgeCredential":
			w.add(id, rdfType, "<"+ob+"OpenBadgeCredential>")
		default:
			return sortedLines{}, fmt.Errorf("nquads: unexpected credential type %q", t)
		}
	}
	// Issuer Profile.
	iss := w.iri(c.Issuer.ID)
	if !slices.Equal(c.Issuer.Type, []string{"Profile"}) {
		return sortedLines{}, errors.New("nquads: issuer type must be [Profile]")
	}
	w.add(id, "<"+cred+"issuer>", iss)
	w.add(iss, rdfType, "<"+ob+"Profile>")
	w.add(iss, "<"+schemaOrg+"name>", w.lit(c.Issuer.Name))
	if c.Issuer.URL != "" {
		w.add(iss, "<"+schemaOrg+"url>", w.typed(c.Issuer.URL, "<"+obXSD+"anyURI>"))
	}
	if c.Issuer.Image != nil {
		w.add(iss, "<"+ob+"image>", w.image(c.Issuer.Image))
	}
	w.add(id, "<"+cred+"validFrom>", w.typed(c.ValidFrom, xsdDate))
	if c.ValidUntil != "" {
		w.add(id, "<"+cred+"validUntil>", w.typed(c.ValidUntil, xsdDate))
	}
	w.add(id, "<"+schemaOrg+"name>", w.lit(c.Name))
	// Subject (a blank node unless it has an id: the holder's DID on a
	// wallet copy), its identifiers and achievement.
	s := c.CredentialSubject
	subj := "_:subject"
	if s.ID != "" {
		subj = w.iri(s.ID)
	}
	if !slices.Equal(s.Type, []string{"AchievementSubject"}) {
		return sortedLines{}, errors.New("nquads: subject type must be [AchievementSubject]")
	}
	w.add(id, "<"+cred+"credentialSubject>", subj)
	w.add(subj, rdfType, "<"+ob+"AchievementSubject>")
	for i, io := range s.Identifier {
		if io.Type != "IdentityObject" {
			return sortedLines{}, errors.New("nquads: identifier type must be IdentityObject")
		}
		b := fmt.Sprintf("_:id%d", i)
		w.add(subj, "<"+ob+"identifier>", b)
		w.add(b, rdfType, "<"+ob+"IdentityObject>")
		w.add(b, "<"+ob+"hashed>", fmt.Sprintf(`"%t"^^<%sboolean>`, io.Hashed, obXSD))
		w.add(b, "<"+ob+"identityHash>", w.lit(io.IdentityHash))
		w.add(b, "<"+ob+"identityType>", w.lit(io.IdentityType))
		if io.Salt != "" {
			w.add(b, "<"+ob+"salt>", w.lit(io.Salt))
		}
	}
	a := s.Achievement
	ach := w.iri(a.ID)
	if !slices.Equal(a.Type, []string{"Achievement"}) {
		return sortedLines{}, errors.New("nquads: achievement type must be [Achievement]")
	}
	w.add(subj, "<"+ob+"achievement>", ach)
	w.add(ach, rdfType, "<"+ob+"Achievement>")
	if a.AchievementType != "" {
		w.add(ach, "<"+ob+"achievementType>", w.lit(a.AchievementType))
	}
	w.add(ach, "<"+schemaOrg+"name>", w.lit(a.Name))
	w.add(ach, "<"+schemaOrg+"description>", w.lit(a.Description))
	// The OB context maps "criteria" to the term ...#Criteria.
	w.add(ach, "<"+ob+"Criteria>", "_:criteria")
	w.add("_:criteria", "<"+ob+"narrative>", w.lit(a.Criteria.Narrative))
	if a.Image != nil {
		w.add(ach, "<"+ob+"image>", w.image(a.Image))
	}
	described := map[string]bool{}
	for _, rd := range a.ResultDescription {
		if !slices.Equal(rd.Type, []string{"ResultDescription"}) {
			return sortedLines{}, errors.New("nquads: resultDescription type must be [ResultDescription]")
		}
		rid := w.iri(rd.ID)
		w.add(ach, "<"+ob+"resultDescription>", rid)
		w.add(rid, rdfType, "<"+ob+"ResultDescription>")
		w.add(rid, "<"+schemaOrg+"name>", w.lit(rd.Name))
		w.add(rid, "<"+ob+"resultType>", w.lit(rd.ResultType))
		described[rd.ID] = true
	}
	// Results are blank nodes; each names a distinct ResultDescription, so
	// their first-degree quads differ (see canonical).
	for i, r := range s.Result {
		if !slices.Equal(r.Type, []string{"Result"}) {
			return sortedLines{}, errors.New("nquads: result type must be [Result]")
		}
		if !described[r.ResultDescription] {
			return sortedLines{}, fmt.Errorf("nquads: result %d names no resultDescription of the achievement", i)
		}
		described[r.ResultDescription] = false // one result per description
		b := fmt.Sprintf("_:result%d", i)
		w.add(subj, "<"+ob+"result>", b)
		w.add(b, rdfType, "<"+ob+"Result>")
		w.add(b, "<"+ob+"resultDescription>", w.typed(r.ResultDescription, "<"+obXSD+"anyURI>"))
		w.add(b, "<"+schemaOrg+"value>", w.lit(r.Value))
	}
	for _, sc := range c.CredentialSchema {
		if sc.Type != SchemaType {
			return sortedLines{}, fmt.Errorf("nquads: unexpected credentialSchema type %q", sc.Type)
		}
		sid := w.iri(sc.ID)
		w.add(id, "<"+cred+"credentialSchema>", sid)
		w.add(sid, rdfType, "<https://purl.imsglobal.org/spec/vccs/v1p0/context.json#1EdTechJsonSchemaValidator2019>")
	}
	st := c.CredentialStatus
	if st.Type != "BitstringStatusListEntry" {
		return sortedLines{}, fmt.Errorf("nquads: unexpected credentialStatus type %q", st.Type)
	}
	sid := w.iri(st.ID)
	w.add(id, "<"+cred+"credentialStatus>", sid)
	w.add(sid, rdfType, "<"+status+"BitstringStatusListEntry>")
	w.add(sid, "<"+status+"statusListCredential>", w.iri(st.StatusListCredential))
	w.add(sid, "<"+status+"statusListIndex>", w.lit(st.StatusListIndex))
	w.add(sid, "<"+status+"statusPurpose>", w.lit(st.StatusPurpose))
	if w.err != nil {
		return sortedLines{}, fmt.Errorf("nquads: %w", w.err)
	}
	return w.canonical()
}

// canonical labels the blank nodes as RDFC-1.0 does and returns the sorted
// N-Quads. Every blank node of the credential shape has a distinct set of
// first-degree quads, so their first-degree hashes differ and issue the
// canonical labels in hash order (RDFC-1.0 step 5); the N-degree step is
// never needed, and a collision (impossible short of SHA-256 breaking) is
// reported rather than mislabelled.
func (w *quadWriter) canonical() (sortedLines, error) {
	// The credential has a handful of blank nodes: a slice, not a map.
	type blank struct {
		label string
		idx   []int // its quads, once per position it holds in each
		hash  [sha256.Size]byte
	}
	var blanks []blank
	for i, q := range w.lines {
		for _, t := range [2]string{q[0], q[2]} {
			if !strings.HasPrefix(t, "_:") {
				continue
			}
			j := slices.IndexFunc(blanks, func(b blank) bool { return b.label == t })
			if j < 0 {
				blanks, j = append(blanks, blank{label: t}), len(blanks)
			}
			blanks[j].idx = append(blanks[j].idx, i)
		}
	}
	// Each blank node's first-degree quads, sorted and hashed; the lines
	// are spans of one scratch buffer.
	var scratch []byte
	var spans [][2]int
	for k := range blanks {
		bn := &blanks[k]
		scratch, spans = scratch[:0], spans[:0]
		for _, i := range bn.idx {
			q := w.lines[i]
			start := len(scratch)
			scratch = appendLine(scratch, relabelFirst(q[0], bn.label), q[1], relabelFirst(q[2], bn.label))
			spans = append(spans, [2]int{start, len(scratch)})
		}
		slices.SortFunc(spans, func(a, b [2]int) int { return bytes.Compare(scratch[a[0]:a[1]], scratch[b[0]:b[1]]) })
		h := sha256.New()
		for _, sp := range spans {
			h.Write(scratch[sp[0]:sp[1]])
		}
		h.Sum(bn.hash[:0])
	}
	// Hex digests sort as their bytes do.
	slices.SortFunc(blanks, func(a, b blank) int { return bytes.Compare(a.hash[:], b.hash[:]) })
	for k := 1; k < len(blanks); k++ {
		if blanks[k].hash == blanks[k-1].hash {
			return sortedLines{}, errors.New("nquads: two blank nodes share a first-degree hash")
		}
	}
	label := make(map[string]string, len(blanks))
	for i, bn := range blanks {
		label[bn.label] = "_:c14n" + strconv.Itoa(i)
	}
	// The relabelled lines are written into one buffer and sorted as spans
	// of it: one allocation for all of them instead of one per line.
	size := 0
	for _, q := range w.lines {
		size += len(q[0]) + len(q[1]) + len(q[2]) + 4
	}
	buf := make([]byte, 0, size+len(w.lines)*4) // labels may be longer
	spans = make([][2]int, len(w.lines))
	for i, q := range w.lines {
		s, o := q[0], q[2]
		if l, ok := label[s]; ok {
			s = l
		}
		if l, ok := label[o]; ok {
			o = l
		}
		start := len(buf)
		buf = appendLine(buf, s, q[1], o)
		spans[i] = [2]int{start, len(buf)}
	}
	span := func(a [2]int) []byte { return buf[a[0]:a[1]] }
	slices.SortFunc(spans, func(a, b [2]int) int { return bytes.Compare(span(a), span(b)) })
	spans = slices.CompactFunc(spans, func(a, b [2]int) bool { return bytes.Equal(span(a), span(b)) })
	return sortedLines{buf, spans}, nil
}

func relabelFirst(t, self string) string {
	switch {
	case t == self:
		return "_:a"
	case strings.HasPrefix(t, "_:"):
		return "_:z"
	}
	return t
}

func line(s, p, o string) string { return s + " " + p + " " + o + " .\n" }

// appendLine appends line(s, p, o) to b.
func appendLine(b []byte, s, p, o string) []byte {
	b = append(append(append(append(b, s...), ' '), p...), ' ')
	return append(append(b, o...), " .\n"...)
}

// ProofNQuads is the canonical form of the proof configuration p under the
// credential context (one blank node, so one label).
func ProofNQuads(p Proof) (string, error) {
	vm, err := iri(p.VerificationMethod)
	if err != nil {
		return "", err
	}
	if p.Type != ProofType || p.Cryptosuite != Cryptosuite || p.ProofPurpose != AssertionProof {
		return "", errors.New("proof nquads: not an eddsa-rdfc-2022 assertion proof")
	}
	created, err := literal(p.Created)
	if err != nil {
		return "", err
	}
	return line("_:c14n0", "<http://purl.org/dc/terms/created>", created+"^^"+xsdDate) +
		line("_:c14n0", rdfType, "<https://w3id.org/security#DataIntegrityProof>") +
		line("_:c14n0", "<https://w3id.org/security#cryptosuite>", `"eddsa-rdfc-2022"^^<https://w3id.org/security#cryptosuiteString>`) +
		line("_:c14n0", "<https://w3id.org/security#proofPurpose>", "<https://w3id.org/security#assertionMethod>") +
		line("_:c14n0", "<https://w3id.org/security#verificationMethod>", vm), nil
}
