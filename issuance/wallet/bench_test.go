package wallet_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/internal/benchcpu"
	"github.com/laurel-edu/laurel/issuance/wallet"
)

// BenchmarkClaimFlow20 runs whole OpenID4VCI claims, 20 wallets at a time,
// over HTTP on loopback: the recipient's button on the email's wallet page
// (a fresh offer), the offer, the token, a c_nonce and the credential
// request with a fresh did:key proof (signed for the holder, recorded and
// audited). It reports the p95 and p50 of one whole claim and the rate.
//
//	CI=true go test -run '^$' -bench ClaimFlow20 -benchtime 400x ./issuance/wallet/
func BenchmarkClaimFlow20(b *testing.B) {
	const wallets = 20
	e := mustEnvN(b, nil, 100)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: wallets},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	call := func(method, path, ctype, body, bearer string) (*http.Response, map[string]any, error) {
		req, _ := http.NewRequest(method, e.URL+path, strings.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp, m, nil
	}
	holders := make([]holder, b.N)
	for i := range holders {
		holders[i] = newHolder(b)
	}
	lat := make([]time.Duration, b.N)
	b.ResetTimer()
	wall := benchcpu.Phase(wallets, b.N, func(i int) {
		start := time.Now()
		cr := e.Creds[i%len(e.Creds)]
		link, _ := url.Parse(e.Wallet.EmailLink(cr.ID, cr.Recipient.Email))
		resp, _, err := call("POST", link.Path, "application/x-www-form-urlencoded", url.Values{"k": {link.Query().Get("k")}}.Encode(), "")
		if err != nil || resp.StatusCode != http.StatusSeeOther {
			b.Errorf("offer: %v %v", resp, err)
			return
		}
		token := strings.TrimPrefix(resp.Header.Get("Location"), "/wallet/claim?t=")
		_, offer, err := call("GET", strings.TrimPrefix(e.Wallet.OfferURI(token), e.URL), "", "", "")
		if err != nil {
			b.Error(err)
			return
		}
		pre := offer["grants"].(map[string]any)[wallet.PreAuthGrant].(map[string]any)["pre-authorized_code"].(string)
		_, tok, err := call("POST", "/wallet/token", "application/x-www-form-urlencoded", form("grant_type", wallet.PreAuthGrant, "pre-authorized_code", pre), "")
		if err != nil {
			b.Error(err)
			return
		}
		_, n, err := call("POST", "/wallet/nonce", "", "", "")
		if err != nil {
			b.Error(err)
			return
		}
		body, _ := json.Marshal(map[string]any{"credential_configuration_id": wallet.ConfigLDP,
			"proofs": map[string]any{"jwt": []string{holders[i].proof(b, e.URL, n["c_nonce"].(string), time.Now())}}})
		cresp, out, err := call("POST", "/wallet/credential", "application/json", string(body), tok["access_token"].(string))
		if err != nil || cresp.StatusCode != http.StatusOK {
			b.Errorf("credential: %v %v %v", cresp, out, err)
			return
		}
		lat[i] = time.Since(start)
	})
	b.StopTimer()
	b.ReportMetric(benchcpu.Percentile(lat, 0.95), "p95-ms")
	b.ReportMetric(benchcpu.Percentile(lat, 0.50), "p50-ms")
	b.ReportMetric(float64(b.N)/wall.Seconds(), "claims/s")
}
