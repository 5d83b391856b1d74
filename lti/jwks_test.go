package lti_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/laurel-edu/laurel/internal/sandbox/canvassim"
	"github.com/laurel-edu/laurel/lti"
)

// A platform that rotates right after Laurel fetched its set, and launches
// with the new key 5 s later, is accepted (the re-fetch limit was 30 s: every
// launch was refused until it passed).
func TestPlatformRotationFiveSecondsAfterFetch(t *testing.T) {
	e := newEnv(t)
	launchOK(t, e, e.student)
	if n := e.jwksFetches(); n != 1 {
		t.Fatalf("JWKS fetched %d times, want 1", n)
	}
	e.sim.RotateKeys()
	e.clock.Advance(5 * time.Second)
	launchOK(t, e, e.student)
	if n := e.jwksFetches(); n != 2 {
		t.Fatalf("JWKS fetched %d times after the rotation, want 2", n)
	}
}

// 1,000 launches with random kids, spread over 20 s, make Laurel fetch the
// platform's JWKS at most once per jose.DefaultMinRefetch.
func TestRandomKidFloodFetchesAHandful(t *testing.T) {
	e := newEnv(t)
	launchOK(t, e, e.student)
	c := browser(true)
	const n = 1000
	f0, t0 := e.jwksFetches(), e.clock.Now()
	for i := range n {
		auth, _ := e.login(c, e.student.ID, e.course.ID, canvassim.LaunchOptions{NoStorageTarget: true})
		state, nonce := stateNonce(t, auth)
		cl, _ := e.sim.Claims(e.student.ID, e.course.ID, nonce, "", "")
		h := e.sim.Header("RS256")
		h["kid"] = fmt.Sprintf("random-%d-%d", i, time.Now().UnixNano())
		resp := post(e, c, url.Values{"id_token": {signWithSim(e, h, cl)}, "state": {state}})
		assertRefused(t, resp, http.StatusUnauthorized, lti.ReasonKid, "random-")
		e.clock.Advance(20 * time.Second / n)
	}
	// At most one fetch per 5 s of the flood (about 20 s; the test clock
	// also runs with real time, so a slow machine makes it longer).
	elapsed := e.clock.Now().Sub(t0)
	if got, limit := e.jwksFetches()-f0, int(elapsed/(5*time.Second))+1; got > limit {
		t.Fatalf("JWKS fetched %d times for %d random kids over %v, want at most %d", got, n, elapsed, limit)
	}
	launchOK(t, e, e.student) // the platform's real key still works
}

// The launch session keeps the id_token's claims: what LaunchByToken returns
// is what the launch validated (the session stores the payload as sent).
func TestLaunchSessionKeepsClaims(t *testing.T) {
	e := newEnv(t)
	status, body := e.fullLaunch(browser(true), e.student.ID, e.course.ID, canvassim.LaunchOptions{NoStorageTarget: true})
	if status != http.StatusOK {
		t.Fatalf("launch: %d %s", status, body)
	}
	var resp struct{ Ltik string }
	must(t, json.Unmarshal([]byte(body), &resp))
	got, err := e.tool.LaunchByToken(context.Background(), resp.Ltik)
	must(t, err)
	want := e.lastLaunch()
	// Numbers come back from JSON as float64, as they always did.
	wantClaims, err := want.AllClaims()
	must(t, err)
	if diff := cmp.Diff(wantClaims, got.Claims); diff != "" {
		t.Fatalf("session claims differ (-validated +stored):\n%s", diff)
	}
	if got.Sub != want.Sub || got.Context.ID != want.Context.ID || len(got.Roles) != len(want.Roles) || got.Platform.ID != want.Platform.ID {
		t.Fatalf("session launch = %+v, want %+v", got, want)
	}
	if _, ok := got.Claims[lti.ClaimRoles]; !ok || got.Claims["sub"] != want.Sub {
		t.Fatalf("stored claims lack sub or roles: %v", got.Claims)
	}
}
