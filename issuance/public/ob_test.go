package public_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/openbadges"
)

// signingWorker runs only the sign jobs (emails stay queued).
func signingWorker(s *issuance.Service, d *sqlx.DB) *jobs.Worker {
	w := jobs.NewWorker(d, quiet)
	w.Handle(issuance.ChangedJob, sg(s).HandleChanged())
	return w
}

// signingFixture is a service that signs, its public server, a badge
// group with an image, and two published, signed credentials (one expires).
type signingFixture struct {
	s     *issuance.Service
	d     *sqlx.DB
	w     *jobs.Worker
	url   string
	group issuance.Group
	creds []issuance.Credential
}

func mustSigningFixture(t *testing.T) signingFixture {
	t.Helper()
	s, d := mustService(t)
	setKeys(s, mustKeys(t))
	ctx := context.Background()
	badge, err := s.CreateDesign(ctx, actor, issuance.Design{Name: "Badge", Kind: issuance.Badge, Image: pngBytes(t), ImageType: "image/png"})
	if err != nil {
		t.Fatal(err)
	}
	g := mustGroup(t, s, func(g *issuance.Group) {
		g.DesignID = badge.ID
		g.Description = "Foundations of data science: \"tidy\" data, models and their limits."
		g.CourseLink = "https://canvas.example.edu/courses/42"
		// A public result (signed as an Open Badges result) and an
		// attribute for the recipient only (never signed).
		g.Attributes = []issuance.Attribute{
			{Key: "grade", Label: "Final grade", Type: issuance.NumberAttr, Required: true, Visibility: issuance.VisibilityPublic, ResultType: "Percent"},
			{Key: "remark", Label: "Remark", Type: issuance.TextAttr},
		}
	})
	a := item("José Ñúñez-王", "Jose@Example.edu")
	b := item("Bea Smith", "bea@example.edu")
	b.ExpiresOn = "2099-12-31"
	b.Attributes = map[string]string{"grade": "87.5", "remark": "Private remark for Bea"}
	cs := mustCreate(t, s, g.ID, a, b)
	if _, err := s.Publish(ctx, actor, issuance.Selection{IDs: []string{cs[0].ID, cs[1].ID}}); err != nil {
		t.Fatal(err)
	}
	w := signingWorker(s, d)
	drain(t, w)
	for i := range cs {
		if cs[i], err = s.Credential(ctx, cs[i].ID); err != nil {
			t.Fatal(err)
		}
	}
	return signingFixture{s: s, d: d, w: w, url: publicServer(t, s).URL, group: g, creds: cs}
}

func fetch(t *testing.T, url, accept string) (int, []byte, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(res.Body)
	return res.StatusCode, b.Bytes(), res.Header
}

func mustJSON(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	return m
}

// TestPublishQueuesSigning: Publish signs nothing in its request; it
// queues sign jobs before the email jobs, and the jobs sign every credential.
func TestPublishQueuesSigning(t *testing.T) {
	s, d := mustService(t)
	setKeys(s, mustKeys(t))
	g := mustGroup(t, s, nil)
	var items []issuance.NewCredential
	for i := range 120 {
		items = append(items, item("R "+itoa(i), "r"+itoa(i)+"@example.edu"))
	}
	mustCreate(t, s, g.ID, items...)
	if _, err := s.Publish(context.Background(), actor, issuance.Selection{GroupID: g.ID, AllUnpublished: true}); err != nil {
		t.Fatal(err)
	}
	count := func(q string, args ...any) int {
		var n int
		if err := d.Get(&n, q, args...); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(`SELECT count(*) FROM credential_signatures`); n != 0 {
		t.Fatalf("%d credentials signed inside Publish", n)
	}
	if n := count(`SELECT count(*) FROM jobs WHERE kind = $1`, issuance.ChangedJob); n != 3 {
		t.Fatalf("%d sign jobs for 120 credentials, want 3 (50 each)", n)
	}
	if n := count(`SELECT count(*) FROM jobs e WHERE e.kind = $1 AND e.id < (SELECT max(id) FROM jobs WHERE kind = $2)`, issuance.EmailJob, issuance.ChangedJob); n != 0 {
		t.Fatalf("%d email jobs queued before the last sign job", n)
	}
	drain(t, signingWorker(s, d))
	if n := count(`SELECT count(*) FROM credential_signatures`); n != 120 {
		t.Fatalf("%d of 120 credentials signed by the jobs", n)
	}
}

// TestOpenBadgeRoutes checks what the public Open Badges routes serve.
func TestOpenBadgeRoutes(t *testing.T) {
	f := mustSigningFixture(t)
	ctx := context.Background()
	c := f.creds[0]
	js, jwt, err := sg(f.s).Signed(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	code, body, hdr := fetch(t, f.url+"/c/"+c.ID+".json", "")
	if code != 200 || hdr.Get("Content-Type") != "application/ld+json" || !bytes.Equal(body, js) {
		t.Fatalf(".json: %d %q, same stored bytes %v", code, hdr.Get("Content-Type"), bytes.Equal(body, js))
	}
	for _, accept := range []string{"application/ld+json", "application/json", "application/json, text/html;q=0.5"} {
		if code, body, _ := fetch(t, f.url+"/c/"+c.ID, accept); code != 200 || !bytes.Equal(body, js) {
			t.Errorf("Accept %q: %d, JSON %v", accept, code, bytes.Equal(body, js))
		}
	}
	for _, accept := range []string{"text/html", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "", "*/*"} {
		if code, body, _ := fetch(t, f.url+"/c/"+c.ID, accept); code != 200 || !bytes.Contains(body, []byte("<html")) {
			t.Errorf("Accept %q: %d, not the page", accept, code)
		}
	}
	code, body, hdr = fetch(t, f.url+"/c/"+c.ID+".jwt", "")
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") || string(body) != jwt || strings.Count(jwt, ".") != 2 {
		t.Fatalf(".jwt: %d %q %q", code, hdr.Get("Content-Type"), body)
	}

	m := mustJSON(t, js)
	if got := m["@context"].([]any); len(got) != 3 || got[0] != openbadges.ContextVC2 || got[1] != openbadges.ContextOB303 {
		t.Errorf("@context = %v", got)
	}
	if m["validFrom"] != "2026-06-30T00:00:00Z" || m["validUntil"] != nil {
		t.Errorf("dates of a credential without expiry: %v %v", m["validFrom"], m["validUntil"])
	}
	subj := m["credentialSubject"].(map[string]any)
	if _, ok := subj["name"]; ok {
		t.Error("credentialSubject.name is not allowed by the schema")
	}
	ids := subj["identifier"].([]any)
	email, name := ids[0].(map[string]any), ids[1].(map[string]any)
	if email["identityType"] != "emailAddress" || email["hashed"] != true || email["identityHash"] != openbadges.EmailHash("jose@example.edu", email["salt"].(string)) ||
		len(email["salt"].(string)) < 16 || strings.Contains(string(js), "example.edu\"") {
		t.Errorf("email identifier = %v", email)
	}
	if name["identityType"] != "ext:name" || name["hashed"] != false || name["identityHash"] != "José Ñúñez-王" {
		t.Errorf("name identifier = %v", name)
	}
	ach := subj["achievement"].(map[string]any)
	achURL := "https://laurel.test/achievements/" + itoa(int(f.group.ID))
	if ach["id"] != achURL || ach["achievementType"] != "Badge" || ach["name"] != f.group.Name ||
		!strings.Contains(ach["criteria"].(map[string]any)["narrative"].(string), "DS 101") ||
		ach["image"].(map[string]any)["id"] != achURL+"/image" || ach["image"].(map[string]any)["type"] != "Image" {
		t.Errorf("achievement = %v", ach)
	}
	st := m["credentialStatus"].(map[string]any)
	if st["type"] != "BitstringStatusListEntry" || st["statusPurpose"] != "revocation" || !strings.HasPrefix(st["statusListCredential"].(string), "https://laurel.test/status/") {
		t.Errorf("credentialStatus = %v", st)
	}
	proof := m["proof"].(map[string]any)
	if proof["cryptosuite"] != "eddsa-rdfc-2022" || !strings.HasPrefix(proof["verificationMethod"].(string), "did:web:laurel.test#") {
		t.Errorf("proof = %v", proof)
	}
	if m["issuer"].(map[string]any)["id"] != "did:web:laurel.test" || m["issuer"].(map[string]any)["name"] != "Laurel" {
		t.Errorf("issuer = %v", m["issuer"])
	}
	// The expiring one carries validUntil (the end of its expiry day).
	js2, _, _ := sg(f.s).Signed(ctx, f.creds[1].ID)
	if got := mustJSON(t, js2)["validUntil"]; got != "2099-12-31T23:59:59Z" {
		t.Errorf("validUntil = %v", got)
	}

	// Issuer documents.
	code, body, _ = fetch(t, f.url+"/.well-known/did.json", "")
	did := mustJSON(t, body)
	vms := did["verificationMethod"].([]any)
	vm := vms[0].(map[string]any)
	if code != 200 || did["id"] != "did:web:laurel.test" || vm["type"] != "Multikey" || vm["id"] != proof["verificationMethod"] ||
		!strings.HasPrefix(vm["publicKeyMultibase"].(string), "z6Mk") || did["assertionMethod"].([]any)[0] != vm["id"] ||
		did["@context"].([]any)[0] != openbadges.ContextDID1 {
		t.Errorf("did.json: %d %s", code, body)
	}
	if code, body2, _ := fetch(t, f.url+"/did.json", ""); code != 200 || !bytes.Equal(body, body2) {
		t.Errorf("/did.json: %d", code)
	}
	code, body, _ = fetch(t, f.url+"/issuer", "")
	if p := mustJSON(t, body); code != 200 || p["id"] != "did:web:laurel.test" || p["type"].([]any)[0] != "Profile" || p["url"] != "https://laurel.test" {
		t.Errorf("/issuer: %d %s", code, body)
	}
	h, _, _ := strings.Cut(jwt, ".")
	var header struct{ Alg, Kid, Typ string }
	hb, _ := jsonB64(h)
	json.Unmarshal(hb, &header)
	if header.Alg != "ES256" || header.Typ != "JWT" || !strings.HasPrefix(header.Kid, "https://laurel.test/issuer/keys/") {
		t.Fatalf("JWT header %s", hb)
	}
	kidPath := strings.TrimPrefix(header.Kid, "https://laurel.test")
	code, body, hdr = fetch(t, f.url+kidPath, "")
	if k := mustJSON(t, body); code != 200 || hdr.Get("Content-Type") != "application/jwk+json" || k["kty"] != "EC" || k["crv"] != "P-256" || k["kid"] != header.Kid || k["d"] != nil {
		t.Errorf("%s: %d %s", kidPath, code, body)
	}
	code, body, _ = fetch(t, f.url+"/issuer/jwks", "")
	if ks := mustJSON(t, body)["keys"].([]any); code != 200 || len(ks) != 1 || ks[0].(map[string]any)["kid"] != header.Kid {
		t.Errorf("/issuer/jwks: %d %s", code, body)
	}
	code, body, _ = fetch(t, f.url+"/achievements/"+itoa(int(f.group.ID)), "")
	if a := mustJSON(t, body); code != 200 || a["id"] != achURL || a["description"] != f.group.Description || a["@context"] == nil {
		t.Errorf("achievement: %d %s", code, body)
	}
	if code, body, hdr := fetch(t, f.url+"/achievements/"+itoa(int(f.group.ID))+"/image", ""); code != 200 || hdr.Get("Content-Type") != "image/png" || !bytes.Equal(body, pngBytes(t)) {
		t.Errorf("achievement image: %d %q", code, hdr.Get("Content-Type"))
	}
	// Unknown or private things are 404s naming what is missing.
	hidden := mustGroup(t, f.s, func(g *issuance.Group) { g.Name = "Nobody holds this" })
	unpub := mustCreate(t, f.s, hidden.ID, item("Un Published", "un@example.edu"))[0]
	for _, path := range []string{"/achievements/" + itoa(int(hidden.ID)), "/achievements/999999", "/achievements/abc",
		"/c/" + unpub.ID + ".json", "/c/" + unpub.ID + ".jwt", "/c/nosuchcredential.json", "/issuer/keys/nope", "/status/99", "/status/x"} {
		code, body, _ := fetch(t, f.url+path, "")
		if code != 404 || !strings.Contains(string(body), `"not_found"`) {
			t.Errorf("%s: %d %s", path, code, body)
		}
	}
	if code, body, _ := fetch(t, f.url+"/c/"+unpub.ID, "application/ld+json"); code != 404 || bytes.Contains(body, []byte("Un Published")) {
		t.Errorf("unpublished by Accept: %d", code)
	}
}

func jsonB64(s string) ([]byte, error) {
	return base64RawURL.DecodeString(s)
}

// TestCredentialValidatesAgainstSchema validates issued credentials
// against the OB 3.0 AchievementCredential JSON Schema (committed test data).
func TestCredentialValidatesAgainstSchema(t *testing.T) {
	f := mustSigningFixture(t)
	c := jsonschema.NewCompiler()
	sch, err := c.Compile("../openbadges/testdata/schema/ob_v3p0_achievementcredential_schema.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, cr := range f.creds {
		js, _, err := sg(f.s).Signed(context.Background(), cr.ID)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(doc); err != nil {
			t.Fatalf("credential %s does not validate: %v\n%s", cr.ID, err, js)
		}
		// The schema catches the mistakes the reference warns of.
		var m map[string]any
		json.Unmarshal(js, &m)
		m["credentialSubject"].(map[string]any)["name"] = "Not allowed"
		if err := sch.Validate(m); err == nil {
			t.Fatal("the schema accepts credentialSubject.name")
		}
	}
}

// TestAmendResigns: amending a published credential queues a re-sign in
// the same transaction; the job replaces the signed JSON and JWT, the audit
// log shows it, and until then the page signs on demand.
func TestAmendResigns(t *testing.T) {
	f := mustSigningFixture(t)
	ctx := context.Background()
	c := f.creds[0]
	before, beforeJWT, _ := sg(f.s).Signed(ctx, c.ID)
	if _, err := f.s.AmendCredential(ctx, actor, c.ID, issuance.Amendment{Name: strp("José Núñez")}); err != nil {
		t.Fatal(err)
	}
	var queued int
	if err := f.d.Get(&queued, `SELECT count(*) FROM jobs WHERE kind = $1 AND state = 'queued'`, issuance.ChangedJob); err != nil || queued != 1 {
		t.Fatalf("%d sign jobs queued by the amendment (%v)", queued, err)
	}
	drain(t, f.w)
	after, afterJWT, err := sg(f.s).Signed(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(before, after) || afterJWT == beforeJWT || !bytes.Contains(after, []byte(`"identityHash":"José Núñez"`)) {
		t.Fatalf("not re-signed with the new name:\n%s", after)
	}
	entries, err := f.s.History(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action)
	}
	if !strings.Contains(strings.Join(actions, ","), "re-sign") {
		t.Fatalf("audit actions %v: no re-sign", actions)
	}
	v, err := sg(f.s).Verify(ctx, mustCred(t, f.s, c.ID))
	if err != nil || !v.Valid {
		t.Fatalf("re-signed credential does not verify: %+v %v", v, err)
	}
}

func mustCred(t *testing.T, s *issuance.Service, id string) issuance.Credential {
	t.Helper()
	c, err := s.Credential(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRevocationAndExpiryVerification: revoking flips the status list bit
// at once, and Verify (the page) says revoked; an expired credential
// fails the date check.
func TestRevocationAndExpiryVerification(t *testing.T) {
	f := mustSigningFixture(t)
	ctx := context.Background()
	c := f.creds[0]
	v, err := sg(f.s).Verify(ctx, c)
	if err != nil || !v.Valid || len(v.Checks) != 4 {
		t.Fatalf("fresh credential: %+v %v", v, err)
	}
	_, before, _ := fetch(t, f.url+"/status/0", "")
	if _, err := f.s.Revoke(ctx, actor, c.ID, "Issued in error"); err != nil {
		t.Fatal(err)
	}
	code, after, hdr := fetch(t, f.url+"/status/0", "")
	if code != 200 || bytes.Equal(before, after) || hdr.Get("ETag") == "" || !strings.Contains(hdr.Get("Cache-Control"), "public") {
		t.Fatalf("status list after revocation: %d changed=%v headers %v", code, !bytes.Equal(before, after), hdr)
	}
	req, _ := http.NewRequest(http.MethodGet, f.url+"/status/0", nil)
	req.Header.Set("If-None-Match", hdr.Get("ETag"))
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusNotModified {
		t.Fatalf("revalidation: %v %v", res, err)
	}
	v, err = sg(f.s).Verify(ctx, mustCred(t, f.s, c.ID))
	if err != nil || v.Valid || !v.Revoked {
		t.Fatalf("revoked credential: %+v %v", v, err)
	}
	code, page, _ := fetch(t, f.url+"/c/"+c.ID, "")
	if code != 200 || !bytes.Contains(page, []byte("This credential was revoked")) || !bytes.Contains(page, []byte("Revocation status: failed")) || bytes.Contains(page, []byte("Verified")) {
		t.Fatalf("revoked page:\n%s", page)
	}
	// Expiry: a credential whose validUntil passed.
	old := item("Old Timer", "old@example.edu")
	old.IssuedOn, old.ExpiresOn = "2020-01-01", "2021-01-01"
	exp := mustCreate(t, f.s, f.group.ID, old)[0]
	if _, err := f.s.Publish(ctx, actor, issuance.Selection{IDs: []string{exp.ID}}); err != nil {
		t.Fatal(err)
	}
	v, err = sg(f.s).Verify(ctx, mustCred(t, f.s, exp.ID))
	if err != nil || v.Valid || !v.Expired || v.Revoked {
		t.Fatalf("expired credential: %+v %v", v, err)
	}
	code, page, _ = fetch(t, f.url+"/c/"+exp.ID, "")
	if code != 200 || !bytes.Contains(page, []byte("This credential expired on 1 January 2021")) || !bytes.Contains(page, []byte("Validity dates: failed")) || bytes.Contains(page, []byte("Verified")) {
		t.Fatalf("expired page:\n%s", page)
	}
}

// TestUnsignedIsNotVerified: a service that cannot sign never says Verified.
func TestUnsignedIsNotVerified(t *testing.T) {
	s, _ := mustService(t)
	g := mustGroup(t, s, nil)
	c := mustCreate(t, s, g.ID, item("Ann", "ann@example.edu"))[0]
	if _, err := s.Publish(context.Background(), actor, issuance.Selection{IDs: []string{c.ID}}); err != nil {
		t.Fatal(err)
	}
	code, page, _ := fetch(t, publicServer(t, s).URL+"/c/"+c.ID, "")
	if code != 200 || bytes.Contains(page, []byte("Verified")) || !bytes.Contains(page, []byte("Not verified")) {
		t.Fatalf("unsigned page: %d\n%s", code, page)
	}
}

// TestRotateCredentialKeys: after a rotation new credentials are signed
// with the new keys, both keys stay published, and credentials signed with
// the old ones still verify. The keys are sealed: another secret cannot
// open them.
func TestRotateCredentialKeys(t *testing.T) {
	f := mustSigningFixture(t)
	ctx := context.Background()
	oldJS, _, _ := sg(f.s).Signed(ctx, f.creds[0].ID)
	ed, es, err := sg(f.s).RotateCredentialKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := mustCreate(t, f.s, f.group.ID, item("New Key", "newkey@example.edu"))[0]
	if _, err := f.s.Publish(ctx, actor, issuance.Selection{IDs: []string{n.ID}}); err != nil {
		t.Fatal(err)
	}
	// Other instances see a rotation within a minute; this one at once.
	drain(t, f.w)
	js, jwt, err := sg(f.s).Signed(ctx, n.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(js, []byte("#"+ed+`"`)) || !strings.Contains(string(must64(t, jwt)), "/issuer/keys/"+es) {
		t.Fatalf("new credential not signed with the new keys %s, %s:\n%s", ed, es, js)
	}
	if bytes.Contains(oldJS, []byte("#"+ed+`"`)) {
		t.Fatal("old credential already named the new key")
	}
	_, did, _ := fetch(t, f.url+"/.well-known/did.json", "")
	if len(mustJSON(t, did)["verificationMethod"].([]any)) != 2 {
		t.Fatalf("did.json after rotation: %s", did)
	}
	_, jwks, _ := fetch(t, f.url+"/issuer/jwks", "")
	if len(mustJSON(t, jwks)["keys"].([]any)) != 2 {
		t.Fatalf("jwks after rotation: %s", jwks)
	}
	for _, c := range []issuance.Credential{f.creds[0], mustCred(t, f.s, n.ID)} {
		if v, err := sg(f.s).Verify(ctx, c); err != nil || !v.Valid {
			t.Fatalf("%s after rotation: %+v %v", c.ID, v, err)
		}
	}
	var sealed [][]byte
	if err := f.d.Select(&sealed, `SELECT private_key_enc FROM credential_keys`); err != nil || len(sealed) != 4 {
		t.Fatalf("%d sealed keys (%v)", len(sealed), err)
	}
	other := issuance.New(f.d, "https://laurel.test")
	setKeys(other, mustKeys(t))
	if _, err := sg(other).DIDDocument(ctx); err == nil || !strings.Contains(err.Error(), "open") {
		t.Fatalf("keys opened with another secret: %v", err)
	}
}

func must64(t *testing.T, jwt string) []byte {
	t.Helper()
	h, _, _ := strings.Cut(jwt, ".")
	b, err := jsonB64(h)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestControlCharactersRefusedAtIssue: text the signed credential cannot
// carry is refused with a field error, and nothing is created.
func TestControlCharactersRefusedAtIssue(t *testing.T) {
	s, d := mustService(t)
	g := mustGroup(t, s, nil)
	before := tableCounts(t, d)
	_, err := s.CreateCredentials(context.Background(), actor, g.ID, issuance.FromForm, []issuance.NewCredential{item("Bell\x07Name", "b@example.edu")})
	if got := fieldErrs(err); len(got) != 1 || got[0] != "0:recipient.name" {
		t.Fatalf("errors %v (%v)", got, err)
	}
	_, err = s.CreateGroup(context.Background(), actor, issuance.Group{Name: "Bad\x00Name", CourseName: "C"})
	if got := fieldErrs(err); len(got) != 1 || got[0] != "-1:name" {
		t.Fatalf("group errors %v (%v)", got, err)
	}
	assertUnchanged(t, d, before)
}

// TestIndependentVerification: Digital Bazaar's verifier (eddsa-rdfc-2022,
// static document loader with the pinned contexts, offline) verifies a
// credential Laurel issued and refuses it after one character of the name
// changes; jose verifies the VC-JWT against the JWK its kid names; after a
// revocation the status-list check sees the bit. Everything it reads was
// fetched from Laurel's HTTP routes.
func TestIndependentVerification(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is required (make test installs it)")
		}
		t.Skip("node not installed")
	}
	dir, _ := filepath.Abs("../openbadges/testdata/verify")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@digitalbazaar", "vc")); err != nil {
		t.Fatalf("the verifier's npm packages are not installed: run `npm ci` in %s (make test does)", dir)
	}
	f := mustSigningFixture(t)
	c := f.creds[1] // the one that expires (exp claim)
	bundle := func(tamperGrade bool) map[string]any {
		docs := map[string]any{}
		get := func(path string) json.RawMessage {
			code, body, _ := fetch(t, f.url+path, "")
			if code != 200 {
				t.Fatalf("%s: %d %s", path, code, body)
			}
			return body
		}
		cred := get("/c/" + c.ID + ".json")
		jwt := string(get("/c/" + c.ID + ".jwt"))
		// The credential verified carries its public result, and nothing of
		// the attribute for the recipient only.
		ach := "https://laurel.test/achievements/" + strconv.FormatInt(f.group.ID, 10)
		for _, want := range []string{`"result":[{"type":["Result"],"resultDescription":"` + ach + `#result-grade","value":"87.5"}]`,
			`"resultDescription":[{"id":"` + ach + `#result-grade","type":["ResultDescription"],"name":"Final grade","resultType":"Percent"}]`} {
			if !bytes.Contains(cred, []byte(want)) {
				t.Fatalf("signed credential lacks %s:\n%s", want, cred)
			}
		}
		if bytes.Contains(cred, []byte("Private remark")) || bytes.Contains(must64(t, strings.Split(jwt, ".")[1]), []byte("Private remark")) {
			t.Fatal("the signed credential carries an attribute for the recipient only")
		}
		// The test resolves https://laurel.test (the deployment's URL) to
		// the test server, as DNS would.
		docs["did:web:laurel.test"] = get("/.well-known/did.json")
		h := map[string]string{}
		json.Unmarshal(must64(t, jwt), &h)
		docs[h["kid"]] = get(strings.TrimPrefix(h["kid"], "https://laurel.test"))
		docs["https://laurel.test/status/0"] = get("/status/0")
		tampered := strings.Replace(string(cred), `"identityHash":"Bea Smith"`, `"identityHash":"Bea Smitt"`, 1)
		if tamperGrade { // the result is signed too
			tampered = strings.Replace(string(cred), `"value":"87.5"`, `"value":"97.5"`, 1)
		}
		if tampered == string(cred) {
			t.Fatal("could not find the name to tamper with")
		}
		pinned := map[string]json.RawMessage{}
		for u, b := range openbadges.Contexts() {
			pinned[u] = b
		}
		return map[string]any{"documents": docs, "credential": json.RawMessage(cred), "tampered": json.RawMessage(tampered), "jwt": jwt, "pinnedDocs": pinned}
	}
	type result struct {
		ContextMismatch []string `json:"contextMismatch"`
		Credential      struct {
			Verified bool
			Error    string
		}
		Tampered struct {
			Verified bool
			Error    string
		}
		JWT struct {
			Verified       bool
			Error          string
			Alg, Kid       string
			Headers        []string
			Jti            string
			Exp            *int64
			SameCredential bool
		}
		Status struct {
			Verified, Revoked, ListVerified bool
			Error                           string
		}
	}
	run := func(tamperGrade bool) result {
		b, _ := json.Marshal(bundle(tamperGrade))
		path := filepath.Join(t.TempDir(), "bundle.json")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(node, "verify.mjs", path)
		cmd.Dir = dir
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("node verify.mjs: %v\n%s", err, stderr.String())
		}
		var r result
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("verifier output %q: %v", out, err)
		}
		return r
	}
	r := run(false)
	t.Logf("before revocation: %+v", r)
	if len(r.ContextMismatch) > 0 {
		t.Fatalf("npm contexts differ from Laurel's pinned copies: %v", r.ContextMismatch)
	}
	if !r.Credential.Verified {
		t.Fatalf("independent verifier refused Laurel's credential: %s", r.Credential.Error)
	}
	if r.Tampered.Verified {
		t.Fatal("independent verifier accepted a credential whose name changed by one character")
	}
	if r := run(true); !r.Credential.Verified || r.Tampered.Verified {
		t.Fatalf("independent verifier with the grade changed: %+v", r)
	}
	if !r.JWT.Verified || !r.JWT.SameCredential || r.JWT.Alg != "ES256" || r.JWT.Jti != "https://laurel.test/c/"+c.ID || r.JWT.Exp == nil ||
		strings.Join(r.JWT.Headers, ",") != "alg,kid,typ" {
		t.Fatalf("jose: %+v", r.JWT)
	}
	if !r.Status.ListVerified || r.Status.Revoked || !r.Status.Verified {
		t.Fatalf("status before revocation: %+v", r.Status)
	}
	if _, err := f.s.Revoke(context.Background(), actor, c.ID, "Issued in error"); err != nil {
		t.Fatal(err)
	}
	r = run(false)
	t.Logf("after revocation: %+v", r)
	if !r.Status.ListVerified || !r.Status.Revoked {
		t.Fatalf("status after revocation: %+v", r.Status)
	}
	if r.Credential.Verified {
		t.Fatalf("the verifier still accepts a revoked credential")
	}
}

var base64RawURL = base64.RawURLEncoding

// TestGroupEditResigns: renaming a group re-signs its published
// credentials, whose Achievement carries the name.
func TestGroupEditResigns(t *testing.T) {
	f := mustSigningFixture(t)
	ctx := context.Background()
	g := f.group
	g.Name = "Data Science Foundations II"
	if _, err := f.s.UpdateGroup(ctx, actor, g); err != nil {
		t.Fatal(err)
	}
	// Before the job runs, the served credential is already the new one.
	js, _, err := sg(f.s).Signed(ctx, f.creds[0].ID)
	if err != nil || !bytes.Contains(js, []byte(`"name":"Data Science Foundations II"`)) {
		t.Fatalf("signed credential after the rename (%v):\n%s", err, js)
	}
	drain(t, f.w)
	for _, c := range f.creds {
		js, _, _ := sg(f.s).Signed(ctx, c.ID)
		if !bytes.Contains(js, []byte(`"name":"Data Science Foundations II"`)) {
			t.Fatalf("%s not re-signed:\n%s", c.ID, js)
		}
		if v, err := sg(f.s).Verify(ctx, mustCred(t, f.s, c.ID)); err != nil || !v.Valid {
			t.Fatalf("%s after re-sign: %+v %v", c.ID, v, err)
		}
	}
}
