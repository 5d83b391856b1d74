package canvas_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/laurel-edu/laurel/canvas"
	"github.com/laurel-edu/laurel/internal/sandbox/canvassim"
	"github.com/laurel-edu/laurel/lti"
)

// The reference payload, from a real Canvas, signed as Live Events signs it.
func TestWebhookAcceptsRealExamplePayload(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// The example comes from oxana.instructure.com: that platform's Canvas URL.
	if _, err := e.registry.UpdatePlatform(ctx, e.platform.ID, ltiCanvasURL("https://oxana.instructure.com")); err != nil {
		t.Fatal(err)
	}
	e.mustMap("565", false)
	raw, err := os.ReadFile("testdata/course_completed.example.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	tok, err := e.events.Sign(ev)
	if err != nil {
		t.Fatal(err)
	}
	st, body, err := e.events.Deliver(ctx, e.webhookURL(), tok)
	if err != nil || st != http.StatusOK || !strings.Contains(string(body), `"accepted"`) {
		t.Fatalf("deliver: %d %s %v", st, body, err)
	}
	e.drain()
	creds := e.credentials()
	if len(creds) != 1 {
		t.Fatalf("credentials: %+v, want one", creds)
	}
	c := creds[0]
	ref := canvas.ExternalRef(e.platform.ID, "123")
	if c.Name != "Isaac Newton" || c.Email != "inewton@example.com" || c.IssuedOn != "2019-11-05" ||
		c.Source != "completion" || c.State != "unpublished" || c.ExternalRef == nil || *c.ExternalRef != ref {
		t.Fatalf("credential = %+v (ref %v), want Isaac Newton, inewton@example.com, 2019-11-05, completion, unpublished, %s", c, deref(c.ExternalRef), ref)
	}
	if n := e.count(`SELECT count(*) FROM canvas_events WHERE state = 'processed' AND credential_id = $1`, c.ID); n != 1 {
		t.Fatalf("processed events pointing at the credential: %d", n)
	}
}

func deref(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

// A student who launched Laurel with another email gets the credential at
// that email, not the one the event carries.
func TestWebhookPrefersEmailKnownFromLaunch(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.mustMap("77", false)
	if err := e.svc.RememberUser(ctx, e.platform.ID, "501", "sub-501", "Ada Lovelace", "ada@uni.example"); err != nil {
		t.Fatal(err)
	}
	if st, b := e.deliver(canvassim.Completion{CourseID: "77", UserID: "501", UserName: "Ada L.", UserEmail: "ada.old@mail.example", CompletedAt: time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)}); st != 200 {
		t.Fatalf("deliver: %d %s", st, b)
	}
	// Canvas may leave the email out: the launch email is used.
	if st, b := e.deliver(canvassim.Completion{CourseID: "77", UserID: "502", UserName: "No Email"}); st != 200 {
		t.Fatalf("deliver: %d %s", st, b)
	}
	e.drain()
	creds := e.credentials()
	if len(creds) != 1 || creds[0].Email != "ada@uni.example" {
		t.Fatalf("credentials = %+v, want one for ada@uni.example", creds)
	}
	var reason string
	if err := e.db.Get(&reason, `SELECT reason FROM canvas_events WHERE canvas_user_id = '502' AND state = 'failed'`); err != nil {
		t.Fatalf("event of user 502 not recorded as failed: %v", err)
	}
	if !strings.Contains(reason, "no email known for Canvas user 502") {
		t.Fatalf("reason = %q", reason)
	}
}

// Canvas retries a delivery (same request_id) and re-sends course_completed
// when completion times change (new request_id): one credential each.
func TestWebhookRedeliveriesAndConcurrentDeliveries(t *testing.T) {
	e := newEnv(t)
	e.mustMap("100", false)
	stop := e.runWorkers(2)
	defer stop()

	a := canvassim.Completion{CourseID: "100", UserID: "1", UserName: "Alice", UserEmail: "alice@example.com", RequestID: "req-a"}
	for i := range 10 {
		st, b := e.deliver(a)
		want := `"duplicate"`
		if i == 0 {
			want = `"accepted"`
		}
		if st != 200 || !strings.Contains(b, want) {
			t.Fatalf("delivery %d of A: %d %s, want %s", i, st, b, want)
		}
	}
	b := canvassim.Completion{CourseID: "100", UserID: "2", UserName: "Bob", UserEmail: "bob@example.com", RequestID: "req-b"}
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := b
			if i%10 == 9 { // Canvas repeating the event after a completion-time change
				c.RequestID = fmt.Sprintf("req-b-repeat-%d", i)
				c.CompletedAt = time.Now().Add(-time.Duration(i) * time.Minute)
			}
			st, body, err := e.events.DeliverCompletion(context.Background(), e.webhookURL(), c)
			if err != nil || st != 200 {
				errs <- fmt.Sprintf("%d %s %v", st, body, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Fatalf("concurrent delivery refused: %s", msg)
	}
	waitFor(t, func() bool {
		return e.count(`SELECT count(*) FROM canvas_events WHERE state = 'received'`) == 0
	})
	creds := e.credentials()
	if len(creds) != 2 {
		t.Fatalf("credentials = %+v, want exactly 2", creds)
	}
	// One inbox row per distinct delivery: A once, B once plus its 5 repeats.
	if n := e.count(`SELECT count(*) FROM canvas_events`); n != 7 {
		t.Fatalf("inbox rows = %d, want 7", n)
	}
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func TestWebhookRefusesForgedAndBrokenDeliveries(t *testing.T) {
	e := newEnv(t)
	e.mustMap("200", false)
	ctx := context.Background()
	good := e.events.CourseCompleted(canvassim.Completion{CourseID: "200", UserID: "9", UserName: "Mallory", UserEmail: "m@example.com"})
	goodTok, err := e.events.Sign(good)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(goodTok, ".")
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	signWith := func(key any, alg jwa.SignatureAlgorithm, kid string, claims map[string]any) string {
		payload, _ := json.Marshal(claims)
		hdr := jws.NewHeaders()
		hdr.Set(jws.KeyIDKey, kid)
		tok, err := jws.Sign(payload, jws.WithKey(alg, key, jws.WithProtectedHeaders(hdr)))
		if err != nil {
			t.Fatal(err)
		}
		return string(tok)
	}
	claims := func(mut func(m map[string]any)) map[string]any {
		var m map[string]any
		b, _ := json.Marshal(good)
		json.Unmarshal(b, &m)
		m["iat"] = time.Now().Unix()
		m["exp"] = time.Now().Add(5 * time.Minute).Unix()
		if mut != nil {
			mut(m)
		}
		return m
	}
	body := func(m map[string]any) map[string]any { return m["body"].(map[string]any) }
	jwksJSON, _ := http.Get(e.events.JWKSURL())
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	json.NewDecoder(jwksJSON.Body).Decode(&set)
	jwksJSON.Body.Close()
	pubN, _ := json.Marshal(set.Keys[0]) // the public key material, as an HS256 "secret"

	cases := []struct {
		name   string
		token  string
		status int
		reason string
	}{
		{"forged signature (other key, same kid)", signWith(other, jwa.RS256(), e.events.Kid(), claims(nil)), 401, "bad_signature"},
		{"tampered payload", parts[0] + "." + b64([]byte(strings.Replace(mustJSON(claims(nil)), "Mallory", "Eve", 1))) + "." + parts[2], 401, "bad_signature"},
		{"unknown kid", signWith(other, jwa.RS256(), "not-a-kid", claims(nil)), 401, "unknown_kid"},
		{"missing kid", parts[0][:0] + b64([]byte(`{"alg":"RS256"}`)) + "." + parts[1] + "." + parts[2], 401, "missing_kid"},
		{"alg none", b64([]byte(`{"alg":"none","kid":"`+e.events.Kid()+`"}`)) + "." + parts[1] + ".", 401, "bad_alg"},
		{"HS256 with the public key", signWith(pubN, jwa.HS256(), e.events.Kid(), claims(nil)), 401, "bad_alg"},
		{"RS512", signWith(other, jwa.RS512(), e.events.Kid(), claims(nil)), 401, "bad_alg"},
		{"expired", mustSign(t, e, claims(func(m map[string]any) { m["exp"] = time.Now().Add(-time.Hour).Unix() })), 401, "expired"},
		{"issued in the future", mustSign(t, e, claims(func(m map[string]any) { m["iat"] = time.Now().Add(time.Hour).Unix() })), 401, "not_yet_valid"},
		{"malformed: two parts", parts[0] + "." + parts[1], 400, "malformed_jwt"},
		{"malformed: garbage", "this is not a token", 400, "malformed_jwt"},
		{"malformed: header not base64", "%%%." + parts[1] + "." + parts[2], 400, "malformed_jwt"},
		{"no event in claims", mustSign(t, e, map[string]any{"exp": time.Now().Add(time.Minute).Unix(), "foo": "bar"}), 400, "no_event"},
		{"missing user id", mustSign(t, e, claims(func(m map[string]any) { delete(body(m)["user"].(map[string]any), "id") })), 400, "missing_field"},
		{"missing user", mustSign(t, e, claims(func(m map[string]any) { delete(body(m), "user") })), 400, "missing_field"},
		{"missing course id", mustSign(t, e, claims(func(m map[string]any) { delete(body(m)["course"].(map[string]any), "id") })), 400, "missing_field"},
		{"course id not an id", mustSign(t, e, claims(func(m map[string]any) { body(m)["course"].(map[string]any)["id"] = "abc" })), 400, "bad_field"},
		{"missing completed_at", mustSign(t, e, claims(func(m map[string]any) { delete(body(m)["progress"].(map[string]any), "completed_at") })), 400, "missing_field"},
		{"completed_at not RFC 3339", mustSign(t, e, claims(func(m map[string]any) { body(m)["progress"].(map[string]any)["completed_at"] = "05/11/2019" })), 400, "bad_completed_at"},
		{"missing hostname", mustSign(t, e, claims(func(m map[string]any) { delete(m["metadata"].(map[string]any), "hostname") })), 400, "missing_field"},
		{"NUL in the user's name", mustSign(t, e, claims(func(m map[string]any) { body(m)["user"].(map[string]any)["name"] = "Mal\x00lory" })), 400, "bad_text"},
		{"missing event name", mustSign(t, e, claims(func(m map[string]any) { delete(m["metadata"].(map[string]any), "event_name") })), 400, "missing_field"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, b, err := e.events.Deliver(ctx, e.webhookURL(), tc.token)
			if err != nil {
				t.Fatal(err)
			}
			var resp struct {
				Error struct{ Code, Reason, Message string }
			}
			json.Unmarshal(b, &resp)
			if st != tc.status || resp.Error.Reason != tc.reason || resp.Error.Message == "" {
				t.Fatalf("got %d %s, want %d reason %s", st, b, tc.status, tc.reason)
			}
		})
	}
	e.drain()
	if n := e.count(`SELECT count(*) FROM canvas_events`); n != 0 {
		t.Fatalf("refused deliveries stored %d inbox rows", n)
	}
	if n := len(e.credentials()); n != 0 {
		t.Fatalf("refused deliveries created %d credentials", n)
	}
	// Refusals are counted per reason.
	mfs, _ := e.reg.Gather()
	found := false
	for _, mf := range mfs {
		if mf.GetName() == "laurel_canvas_webhook_refused_total" {
			for _, m := range mf.GetMetric() {
				if m.GetLabel()[0].GetValue() == "bad_alg" && m.GetCounter().GetValue() == 3 {
					found = true
				}
			}
		}
	}
	if !found {
		t.Fatal("laurel_canvas_webhook_refused_total{reason=bad_alg} != 3")
	}
	// The valid token is still accepted afterwards.
	if st, b, _ := e.events.Deliver(ctx, e.webhookURL(), goodTok); st != 200 {
		t.Fatalf("valid token after refusals: %d %s", st, b)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func mustSign(t *testing.T, e *env, claims map[string]any) string {
	t.Helper()
	tok, err := e.events.SignClaims(claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// An event nested under a claim is found; other event types are
// acknowledged and ignored.
func TestWebhookNestedEventAndOtherTypes(t *testing.T) {
	e := newEnv(t)
	e.mustMap("300", false)
	e.events.Nested = true
	if st, b := e.deliver(canvassim.Completion{CourseID: "300", UserID: "5", UserName: "Nested", UserEmail: "n@example.com"}); st != 200 {
		t.Fatalf("nested: %d %s", st, b)
	}
	// The token wrapped in JSON is accepted too.
	wrapped, _ := e.events.Sign(e.events.CourseCompleted(canvassim.Completion{CourseID: "300", UserID: "7", UserName: "Wrapped", UserEmail: "w@example.com"}))
	if st, b, _ := e.events.DeliverUnsigned(context.Background(), e.webhookURL(), map[string]any{"jwt": wrapped}, nil); st != 200 {
		t.Fatalf("wrapped token: %d %s", st, b)
	}
	ev := e.events.CourseCompleted(canvassim.Completion{CourseID: "300", UserID: "6"})
	ev["metadata"].(map[string]any)["event_name"] = "asset_accessed"
	tok, _ := e.events.Sign(ev)
	st, b, _ := e.events.Deliver(context.Background(), e.webhookURL(), tok)
	if st != 200 || !strings.Contains(string(b), `"ignored"`) {
		t.Fatalf("other event type: %d %s", st, b)
	}
	e.drain()
	if creds := e.credentials(); len(creds) != 2 || creds[0].Email != "n@example.com" || creds[1].Email != "w@example.com" {
		t.Fatalf("credentials = %+v", creds)
	}
	if n := e.count(`SELECT count(*) FROM canvas_events WHERE state = 'ignored' AND event_name = 'asset_accessed'`); n != 1 {
		t.Fatalf("ignored rows = %d", n)
	}
}

// A completion in an unmapped course is recorded; mapping the course
// processes it.
func TestWebhookUnmappedCourseIsReprocessedWhenMapped(t *testing.T) {
	e := newEnv(t)
	if st, b := e.deliver(canvassim.Completion{CourseID: "404", UserID: "7", UserName: "Early", UserEmail: "early@example.com"}); st != 200 {
		t.Fatalf("deliver: %d %s", st, b)
	}
	e.drain()
	var state, reason string
	if err := e.db.QueryRow(`SELECT state, reason FROM canvas_events`).Scan(&state, &reason); err != nil {
		t.Fatal(err)
	}
	if state != "unmapped" || !strings.Contains(reason, "not mapped to a group") || len(e.credentials()) != 0 {
		t.Fatalf("state %q reason %q credentials %d", state, reason, len(e.credentials()))
	}
	// A completion older than 30 days in the same course stays unmapped.
	if st, b := e.deliver(canvassim.Completion{CourseID: "404", UserID: "8", UserName: "Late", UserEmail: "late@example.com"}); st != 200 {
		t.Fatalf("deliver: %d %s", st, b)
	}
	e.drain()
	if _, err := e.db.Exec(`UPDATE canvas_events SET received_at = now() - interval '31 days' WHERE canvas_user_id = '8'`); err != nil {
		t.Fatal(err)
	}
	tok := e.token("admin")
	st, body := e.api("POST", "/mappings", tok, fmt.Sprintf(`{"platform_id":%d,"group_id":%d,"canvas_course_id":"404"}`, e.platform.ID, e.group.ID))
	if st != 201 {
		t.Fatalf("create mapping: %d %s", st, body)
	}
	e.drain()
	if creds := e.credentials(); len(creds) != 1 || creds[0].Email != "early@example.com" {
		t.Fatalf("credentials after mapping = %+v", creds)
	}
}

// Unsigned JSON is accepted only with the platform's shared secret.
func TestWebhookUnsignedNeedsSharedSecret(t *testing.T) {
	e := newEnv(t)
	e.mustMap("500", false)
	ctx := context.Background()
	ev := e.events.CourseCompleted(canvassim.Completion{CourseID: "500", UserID: "11", UserName: "Una Signed", UserEmail: "una@example.com"})
	try := func(h map[string]string) (int, string) {
		st, b, err := e.events.DeliverUnsigned(ctx, e.webhookURL(), ev, h)
		if err != nil {
			t.Fatal(err)
		}
		return st, string(b)
	}
	if st, b := try(map[string]string{canvas.SecretHeader: "a-guess-at-the-secret"}); st != 401 || !strings.Contains(b, "unsigned_no_secret") {
		t.Fatalf("no secret configured: %d %s", st, b)
	}
	const secretValue = "correct-horse-battery-staple-42"
	if err := e.svc.SetWebhookSecret(ctx, e.platform.ID, secretValue); err != nil {
		t.Fatal(err)
	}
	var stored []byte
	e.db.Get(&stored, `SELECT webhook_secret_enc FROM canvas_platform_settings WHERE platform_id = $1`, e.platform.ID)
	if len(stored) == 0 || strings.Contains(string(stored), secretValue) {
		t.Fatal("secret not stored encrypted")
	}
	if st, b := try(nil); st != 401 || !strings.Contains(b, "missing_secret") {
		t.Fatalf("without secret: %d %s", st, b)
	}
	if st, b := try(map[string]string{canvas.SecretHeader: "correct-horse-battery-staple-43"}); st != 401 || !strings.Contains(b, "bad_secret") {
		t.Fatalf("wrong secret: %d %s", st, b)
	}
	if st, b := try(map[string]string{"Authorization": "Bearer wrong"}); st != 401 || !strings.Contains(b, "bad_secret") {
		t.Fatalf("wrong bearer: %d %s", st, b)
	}
	e.drain()
	if n := len(e.credentials()); n != 0 {
		t.Fatalf("refused unsigned deliveries created %d credentials", n)
	}
	if st, b := try(map[string]string{"Authorization": "Bearer " + secretValue}); st != 200 || !strings.Contains(b, "accepted") {
		t.Fatalf("right secret: %d %s", st, b)
	}
	e.drain()
	if creds := e.credentials(); len(creds) != 1 || creds[0].Email != "una@example.com" {
		t.Fatalf("credentials = %+v", creds)
	}
}

// A mapping that publishes at once publishes in the processing transaction.
func TestWebhookAutoPublish(t *testing.T) {
	e := newEnv(t)
	e.mustMap("600", true)
	if st, b := e.deliver(canvassim.Completion{CourseID: "600", UserID: "12", UserName: "Pub", UserEmail: "pub@example.com"}); st != 200 {
		t.Fatalf("deliver: %d %s", st, b)
	}
	e.drain()
	if creds := e.credentials(); len(creds) != 1 || creds[0].State != "published" {
		t.Fatalf("credentials = %+v, want one published", creds)
	}
}

// Before an owner has named the organisation, a mapping that publishes at
// once still creates the completion's credential, unpublished and with no
// email: the event is processed, not refused.
func TestWebhookAutoPublishWaitsForOrganisation(t *testing.T) {
	e := newEnv(t)
	// A fresh installation (test databases start named).
	if _, err := e.db.Exec(`UPDATE organisation SET named_at = NULL`); err != nil {
		t.Fatal(err)
	}
	e.mustMap("601", true)
	if st, b := e.deliver(canvassim.Completion{CourseID: "601", UserID: "12", UserName: "Pub", UserEmail: "pub@example.com"}); st != 200 {
		t.Fatalf("deliver: %d %s", st, b)
	}
	e.drain()
	if creds := e.credentials(); len(creds) != 1 || creds[0].State != "unpublished" {
		t.Fatalf("credentials = %+v, want one unpublished", creds)
	}
	var emails int
	if err := e.db.Get(&emails, `SELECT count(*) FROM credential_emails`); err != nil || emails != 0 {
		t.Fatalf("%d emails (%v) before the organisation is named", emails, err)
	}
}

func ltiCanvasURL(u string) lti.PlatformInput {
	return lti.PlatformInput{Extra: canvas.PlatformExtra(u, "")}
}

// Instructure rotates the Live Events keys: an unknown kid re-fetches the
// JWKS, but a flood of unknown kids fetches it at most once per interval.
func TestWebhookJWKSRotationAndRefetchLimit(t *testing.T) {
	e := newEnv(t)
	e.mustMap("950", false)
	if st, b := e.deliver(canvassim.Completion{CourseID: "950", UserID: "1", UserName: "A", UserEmail: "a@example.com"}); st != 200 {
		t.Fatalf("first: %d %s", st, b)
	}
	if n := e.events.JWKSFetches(); n != 1 {
		t.Fatalf("JWKS fetched %d times, want 1", n)
	}
	if err := e.events.Rotate(); err != nil {
		t.Fatal(err)
	}
	// Right after a fetch, an unknown kid is refused without a re-fetch.
	if st, b := e.deliver(canvassim.Completion{CourseID: "950", UserID: "2", UserName: "B", UserEmail: "b@example.com"}); st != 401 || !strings.Contains(b, "unknown_kid") {
		t.Fatalf("new kid within the refetch interval: %d %s", st, b)
	}
	e.clock.Advance(11 * time.Second)
	if st, b := e.deliver(canvassim.Completion{CourseID: "950", UserID: "2", UserName: "B", UserEmail: "b@example.com"}); st != 200 {
		t.Fatalf("new kid after the interval: %d %s", st, b)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	for i := range 20 {
		claims := e.events.CourseCompleted(canvassim.Completion{CourseID: "950", UserID: "3", UserName: "F", UserEmail: "f@example.com"})
		claims["exp"] = time.Now().Add(time.Minute).Unix()
		tok, _ := canvassim.SignLiveEvent(map[string]any{"alg": "RS256", "kid": fmt.Sprintf("forged-%d", i)}, claims, other)
		if st, b, _ := e.events.Deliver(context.Background(), e.webhookURL(), tok); st != 401 || !strings.Contains(string(b), "unknown_kid") {
			t.Fatalf("forged kid %d: %d %s", i, st, b)
		}
	}
	if n := e.events.JWKSFetches(); n != 2 {
		t.Fatalf("JWKS fetched %d times, want 2 (one per rotation, none for the flood)", n)
	}
	e.drain()
	if n := len(e.credentials()); n != 2 {
		t.Fatalf("%d credentials, want 2", n)
	}
}

// Each stored completion has its processing job, enqueued with it; a
// duplicate delivery adds none, and a job run twice (a worker that died
// after the work) creates nothing more.
func TestWebhookEnqueuesOneJobPerStoredCompletion(t *testing.T) {
	e := newEnv(t)
	e.mustMap("150", false)
	c := canvassim.Completion{CourseID: "150", UserID: "1", UserName: "Ann", UserEmail: "ann@example.com", RequestID: "req-ann"}
	for range 3 {
		if st, b := e.deliver(c); st != 200 {
			t.Fatalf("deliver: %d %s", st, b)
		}
	}
	if n := e.count(`SELECT count(*) FROM jobs WHERE kind = $1 AND state = 'queued'`, canvas.InboxJob); n != 1 {
		t.Fatalf("%d queued inbox jobs, want 1", n)
	}
	e.drain()
	if n := e.count(`SELECT count(*) FROM jobs WHERE kind = $1 AND state = 'done'`, canvas.InboxJob); n != 1 {
		t.Fatalf("%d done inbox jobs, want 1", n)
	}
	// The same job again, as after a lost lease.
	if _, err := e.db.Exec(`UPDATE jobs SET state = 'queued', finished_at = NULL WHERE kind = $1`, canvas.InboxJob); err != nil {
		t.Fatal(err)
	}
	e.drain()
	if creds := e.credentials(); len(creds) != 1 {
		t.Fatalf("credentials = %+v, want exactly 1", creds)
	}
	if n := e.count(`SELECT count(*) FROM canvas_events WHERE state = 'processed'`); n != 1 {
		t.Fatalf("%d processed events, want 1", n)
	}
}
