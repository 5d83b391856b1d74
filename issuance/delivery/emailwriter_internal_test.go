package delivery

import (
	htmltemplate "html/template"
	"strings"
	"testing"
	texttemplate "text/template"

	"github.com/laurel-edu/laurel/issuance"
)

// The reference templates: what the email writer must write, byte for byte.
var (
	refText = texttemplate.Must(texttemplate.ParseFiles("testdata/credential.txt"))
	refHTML = htmltemplate.Must(htmltemplate.ParseFiles("testdata/credential.html"))
)

// writerCase is one input of renderEmail. Fields holds label/value pairs as
// "label\x1fvalue" records separated by "\x1e" (fuzzing takes strings).
type writerCase struct {
	name                                                         string
	Body, Subject, Recipient, Achievement, Course, Issuer, URL   string
	ClickURL, ID, Color, Lang, Logo, To, Fields                  string
	DownloadURL, DownloadLabel, WalletURL, WalletLabel, RenewURL string
	RenewLabel                                                   string
	Resend                                                       bool
}

// base is an ordinary publish email, which the hostile cases vary.
var base = writerCase{
	Body: issuance.DefaultEmailBody, Subject: issuance.DefaultEmailSubject, Recipient: "José Ñúñez", Achievement: "Data Science",
	Course: "DS 101", Issuer: "Example University", URL: "https://l.test/c/abcdefghijklmnopqrstuvwx", ID: "abcdefghijklmnopqrstuvwx",
	Color: "#123456", Lang: "en", Logo: "https://l.test/logo", To: "jose@example.edu", Fields: "Grade\x1fA",
	DownloadURL: "https://l.test/c/abc/badge.png", DownloadLabel: "Download your badge image",
}

func writerCases() []writerCase {
	hostile := "<script>alert('x\" & y')</script>+\x00\xff\xfe é 中文 {recipient_name} {nope} }{"
	var cs []writerCase
	add := func(name string, f func(*writerCase)) {
		c := base
		c.name = name
		f(&c)
		cs = append(cs, c)
	}
	add("ordinary", func(*writerCase) {})
	add("hostile everywhere", func(c *writerCase) {
		for _, p := range []*string{&c.Body, &c.Subject, &c.Recipient, &c.Achievement, &c.Course, &c.Issuer, &c.ID, &c.Lang, &c.To,
			&c.DownloadLabel, &c.WalletLabel, &c.RenewLabel} {
			*p += hostile
		}
		c.Fields = hostile + "\x1f" + hostile + "\x1e\x1f\x1e&\x1f+"
		c.URL += "?a=1&b=" + hostile
		c.ClickURL = c.URL + "&src=email"
		c.Logo += "/" + hostile
		c.WalletURL, c.WalletLabel = "https://w.test/add?x='y'&z=\"1\"", "Wallet"
		c.RenewURL, c.RenewLabel = "https://l.test/renew#a b", "Renew"
	})
	for _, u := range []string{"javascript:alert(1)", "JAVASCRIPT:alert(1)", " javascript:alert(1)", "data:text/html,<b>x</b>",
		"vbscript:x", "mailto:a@b.test?subject=a b", "MAILTO:x", "HTTP://L.TEST/", "https://l.test/a b/ü?q=%zz&r=%2F%2f%4",
		"/relative/path:x", "//l.test/x", "https://l.test/%", "https://l.test/%4", "http://l.test/<>\"'`{}|\\^\x00\x7f\xff",
		"ftp://l.test/", "https:", ":", "", "#frag", "?q=+&", "https://l.test/~-._!$*,;=@[]:/"} {
		add("url "+u, func(c *writerCase) {
			c.URL, c.ClickURL, c.Logo = u, u, "https://"+u
			c.DownloadURL, c.WalletURL, c.WalletLabel, c.RenewURL, c.RenewLabel = u, u+"w", "Wallet", "x"+u, "Renew"
		})
	}
	add("click url differs", func(c *writerCase) { c.ClickURL = c.URL + "?src=email" })
	add("empty fields", func(c *writerCase) {
		c.Body, c.Subject, c.Recipient, c.Achievement, c.Course, c.Issuer, c.URL, c.ID, c.Lang, c.To, c.Fields = "", "", "", "", "", "", "", "", "", "", ""
		c.DownloadURL, c.DownloadLabel = "", ""
	})
	add("no logo, http logo", func(c *writerCase) { c.Logo = "http://l.test/logo" })
	add("no logo", func(c *writerCase) { c.Logo = "" })
	add("no links", func(c *writerCase) { c.DownloadURL = "" })
	add("all links", func(c *writerCase) {
		c.WalletURL, c.WalletLabel = "https://l.test/w/1?t=a+b", "Add it to a digital wallet app on your phone"
		c.RenewURL, c.RenewLabel = "https://l.test/renew/1", "Ask to renew"
	})
	add("link with empty label", func(c *writerCase) { c.DownloadLabel = "" })
	add("course equals achievement", func(c *writerCase) { c.Course = c.Achievement })
	add("course empty", func(c *writerCase) { c.Course = "" })
	add("invalid colours", func(c *writerCase) { c.Color = "red;background:url(javascript:x)" })
	add("colour without hash", func(c *writerCase) { c.Color = "123456" })
	add("upper-case colour", func(c *writerCase) { c.Color = "#ABCDEF" })
	add("colour empty", func(c *writerCase) { c.Color = "" })
	add("many fields", func(c *writerCase) {
		var fs []string
		for i := range 40 {
			fs = append(fs, strings.Repeat("L", i)+"\x1f"+strings.Repeat("<v&", i))
		}
		c.Fields = strings.Join(fs, "\x1e")
	})
	add("resend", func(c *writerCase) { c.Resend = true; c.Subject = "Line\nbreak\r\n{credential_name}" })
	add("placeholders in body", func(c *writerCase) {
		c.Body = "{credential_url}{credential_url}\n\n\n\n{recipient_name}\n{credential_url} and {credential_url}.\n\n\nA {issuer_name} <b>{course_name}</b>\n{unknown}\n\n"
	})
	add("body only line breaks", func(c *writerCase) { c.Body = "\n\n\n\n\n" })
	add("body lines with empty ones", func(c *writerCase) { c.Body = "a\n\nb\n\n\nc\n \nd" })
	add("url is a placeholder", func(c *writerCase) { c.URL = "{credential_url}"; c.Body = "{credential_url} {credential_id}" })
	return cs
}

// render renders c with renderEmail and with the reference templates from
// the same data.
func (c writerCase) render(t testing.TB) (got, want [2]string) {
	t.Helper()
	o := issuance.Organisation{Name: c.Issuer, Language: c.Lang, LogoURL: c.Logo}
	vals := map[string]string{"recipient_name": c.Recipient, "credential_name": c.Achievement, "course_name": c.Course,
		"issued_on": "7 December 2026", "issuer_name": c.Issuer, "credential_url": c.URL, "credential_id": c.ID}
	if c.ClickURL != "" {
		vals["click_url"] = c.ClickURL
	}
	var fields []emailField
	if c.Fields != "" {
		for rec := range strings.SplitSeq(c.Fields, "\x1e") {
			label, value, _ := strings.Cut(rec, "\x1f")
			fields = append(fields, emailField{label, value})
		}
	}
	links := emailLinks{Download: issuance.Link{Label: c.DownloadLabel, URL: c.DownloadURL},
		Wallet: issuance.Link{Label: c.WalletLabel, URL: c.WalletURL}, Renew: issuance.Link{Label: c.RenewLabel, URL: c.RenewURL}}
	reason := "publish"
	if c.Resend {
		reason = "resend"
	}
	m := renderEmail(o, c.Subject, c.Body, vals, c.Color, links, fields, c.To, reason)
	data := newEmailData(o, c.Body, vals, c.Color, links, fields, c.To)
	if data.Text != issuance.Fill(c.Body, vals) {
		t.Errorf("text %q, issuance.Fill gives %q", data.Text, issuance.Fill(c.Body, vals))
	}
	subject := issuance.Fill(c.Subject, vals)
	if c.Resend {
		subject = "Reminder: " + subject
	}
	if subject = strings.Join(strings.Fields(subject), " "); m.Subject != subject {
		t.Errorf("subject %q, want %q", m.Subject, subject)
	}
	var text, html strings.Builder
	if err := refText.Execute(&text, data); err != nil {
		t.Fatal(err)
	}
	if err := refHTML.Execute(&html, data); err != nil {
		t.Fatal(err)
	}
	return [2]string{m.Text, m.HTML}, [2]string{text.String(), html.String()}
}

// TestEmailWriterMatchesTemplates: for ordinary and hostile inputs, the
// email's text and HTML are exactly what the reference templates render.
func TestEmailWriterMatchesTemplates(t *testing.T) {
	for _, c := range writerCases() {
		t.Run(c.name, func(t *testing.T) {
			got, want := c.render(t)
			for i, part := range []string{"text", "html"} {
				if got[i] != want[i] {
					t.Errorf("%s part differs from the template's at byte %d:\ngot  %q\nwant %q", part, firstDiff(got[i], want[i]), got[i], want[i])
				}
			}
		})
	}
	// The cases reach what they are meant to: escaping, filtered URLs and
	// every optional part (a table that rendered none would prove little).
	var all strings.Builder
	for _, c := range writerCases() {
		got, _ := c.render(t)
		all.WriteString(got[1])
	}
	for _, s := range []string{"&lt;script&gt;", "&#34;", "&#39;", "&#43;", "&amp;", "\uFFFD", "\xff", "#ZgotmplZ", "%20", "%e4%b8%ad",
		"<img src=", "<br>", "Course: ", "Add it to a digital wallet", "Ask to renew", "?src=email"} {
		if !strings.Contains(all.String(), s) {
			t.Errorf("no case's HTML contains %q", s)
		}
	}
}

// FuzzEmailWriterMatchesTemplates: for any input renderEmail can be given,
// the email's text and HTML are exactly what the reference templates render.
func FuzzEmailWriterMatchesTemplates(f *testing.F) {
	for _, c := range writerCases() {
		f.Add(c.Body, c.Subject, c.Recipient, c.Achievement, c.Course, c.Issuer, c.URL, c.ClickURL, c.ID, c.Color, c.Lang,
			c.Logo, c.To, c.Fields, c.DownloadURL, c.DownloadLabel, c.WalletURL, c.WalletLabel, c.RenewURL, c.RenewLabel, c.Resend)
	}
	f.Fuzz(func(t *testing.T, body, subject, recipient, achievement, course, issuer, url, clickURL, id, color, lang, logo, to, fields,
		downloadURL, downloadLabel, walletURL, walletLabel, renewURL, renewLabel string, resend bool) {
		c := writerCase{Body: body, Subject: subject, Recipient: recipient, Achievement: achievement, Course: course, Issuer: issuer,
			URL: url, ClickURL: clickURL, ID: id, Color: color, Lang: lang, Logo: logo, To: to, Fields: fields, DownloadURL: downloadURL,
			DownloadLabel: downloadLabel, WalletURL: walletURL, WalletLabel: walletLabel, RenewURL: renewURL, RenewLabel: renewLabel, Resend: resend}
		got, want := c.render(t)
		if got != want {
			t.Errorf("writer and templates differ:\ngot  %q\nwant %q", got, want)
		}
	})
}

func firstDiff(a, b string) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return i
}
