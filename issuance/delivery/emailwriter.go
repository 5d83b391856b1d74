package delivery

import (
	"strings"

	"github.com/laurel-edu/laurel/issuance"
)

// The credential email's two parts are written by plain Go code, not by
// executing templates: a bulk publish renders one email per credential, and
// text/template and html/template spend most of that time in reflection
// (every field, range and escaper is a reflect call). The templates
// testdata/credential.html and testdata/credential.txt are the writer's
// specification: TestEmailWriterMatchesTemplates and
// FuzzEmailWriterMatchesTemplates prove its output byte-identical to theirs,
// html/template's contextual escaping included. Change a template there
// first, then the writer, until they agree.

// writeEmailText is the plain text part (testdata/credential.txt): no
// escaping.
func writeEmailText(d *emailData) string {
	var b strings.Builder
	b.Grow(200 + valuesLen(d))
	b.WriteString(d.Text)
	b.WriteString("\n")
	if d.CourseName != "" && d.CourseName != d.Achievement {
		b.WriteString("\nCourse: ")
		b.WriteString(d.CourseName)
	}
	for _, f := range d.Fields {
		b.WriteString("\n")
		b.WriteString(f.Label)
		b.WriteString(": ")
		b.WriteString(f.Value)
	}
	for _, l := range [...]issuance.Link{d.Download, d.Wallet, d.Renew} {
		if l.URL != "" {
			b.WriteString("\n")
			b.WriteString(l.Label)
			b.WriteString(":\n")
			b.WriteString(l.URL)
			b.WriteString("\n")
		}
	}
	b.WriteString("\nCredential ID: ")
	b.WriteString(d.CredentialID)
	b.WriteString("\n\nYou received this email because ")
	b.WriteString(d.Issuer)
	b.WriteString(" issued a credential to ")
	b.WriteString(d.To)
	b.WriteString(".\n")
	return b.String()
}

// writeEmailHTML is the HTML part (testdata/credential.html). Each value is
// escaped as html/template escapes it where it appears: text, attribute and
// title values with escapeHTML, href and src with escapeURL. Color needs no
// CSS filtering: renderEmail passes only colours issuance.ValidColor accepts
// (#rrggbb), which html/template's CSS filter and escaper leave as they are.
func writeEmailHTML(d *emailData) string {
	var b strings.Builder
	b.Grow(2200 + valuesLen(d) + valuesLen(d)/4) // the markup, and room to escape
	b.WriteString(`<!doctype html>
<html lang="`)
	escapeHTML(&b, d.Lang)
	b.WriteString(`">
<head><meta charset="utf-8"><title>`)
	escapeHTML(&b, d.Achievement)
	b.WriteString(`</title></head>
<body style="margin:0;padding:24px;background:#f6f8fa;font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1d2733">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="max-width:560px;margin:0 auto;background:#ffffff;border:1px solid #d6dde4;border-radius:6px">
<tr><td style="padding:24px 28px;border-top:6px solid `)
	escapeHTML(&b, d.Color)
	b.WriteString(`">
<p style="margin:0 0 16px">`)
	if d.LogoURL != "" {
		b.WriteString(`<img src="`)
		escapeURL(&b, d.LogoURL)
		b.WriteString(`" alt="" height="48" style="display:block;max-height:48px;max-width:200px;margin:0 0 8px">`)
	}
	b.WriteString(`<strong style="font-size:17px">`)
	escapeHTML(&b, d.Issuer)
	b.WriteString(`</strong></p>
`)
	for _, para := range d.Paragraphs {
		b.WriteString(`<p style="margin:0 0 12px">`)
		for i, line := range para {
			if i > 0 {
				b.WriteString(`<br>`)
			}
			for _, seg := range line {
				if seg.Link != "" {
					b.WriteString(`<a href="`)
					escapeURL(&b, seg.Link)
					b.WriteString(`">`)
					escapeHTML(&b, seg.Text)
					b.WriteString(`</a>`)
				} else {
					escapeHTML(&b, seg.Text)
				}
			}
		}
		b.WriteString(`</p>
`)
	}
	b.WriteString(`<p style="margin:20px 0"><a href="`)
	escapeURL(&b, d.ClickURL)
	b.WriteString(`" style="background:#2d6cdf;color:#ffffff;padding:10px 18px;border-radius:4px;text-decoration:none;display:inline-block">View your credential</a></p>
`)
	for _, l := range [...]issuance.Link{d.Download, d.Wallet, d.Renew} {
		if l.URL != "" {
			b.WriteString(`<p style="margin:0 0 12px;font-size:14px"><a href="`)
			escapeURL(&b, l.URL)
			b.WriteString(`">`)
			escapeHTML(&b, l.Label)
			b.WriteString(`</a></p>
`)
		}
	}
	if d.CourseName != "" && d.CourseName != d.Achievement {
		b.WriteString(`<p style="margin:0 0 6px;font-size:13px;color:#5b6875">Course: `)
		escapeHTML(&b, d.CourseName)
		b.WriteString(`</p>`)
	}
	b.WriteString("\n")
	for _, f := range d.Fields {
		b.WriteString(`<p style="margin:0 0 6px;font-size:13px;color:#5b6875">`)
		escapeHTML(&b, f.Label)
		b.WriteString(`: `)
		escapeHTML(&b, f.Value)
		b.WriteString(`</p>
`)
	}
	b.WriteString(`
<p style="margin:0;font-size:13px;color:#5b6875">Credential ID: `)
	escapeHTML(&b, d.CredentialID)
	b.WriteString(`</p>
</td></tr>
</table>
<p style="max-width:560px;margin:12px auto 0;font-size:12px;color:#5b6875">You received this email because `)
	escapeHTML(&b, d.Issuer)
	b.WriteString(` issued a credential to `)
	escapeHTML(&b, d.To)
	b.WriteString(`.</p>
</body>
</html>
`)
	return b.String()
}

// valuesLen is about the length of d's values in a part, so that its
// buffer is allocated once.
func valuesLen(d *emailData) int {
	n := len(d.Text) + 2*len(d.URL) + len(d.ClickURL) + len(d.LogoURL) + len(d.Achievement) + len(d.CourseName) +
		2*len(d.Issuer) + len(d.To) + len(d.CredentialID) + 40*len(d.Paragraphs)
	for _, l := range [...]issuance.Link{d.Download, d.Wallet, d.Renew} {
		if l.URL != "" {
			n += len(l.Label) + len(l.URL) + 64
		}
	}
	for _, f := range d.Fields {
		n += len(f.Label) + len(f.Value) + 64
	}
	return n
}

// escapeHTML writes s as html/template's text, RCDATA and quoted attribute
// escapers do for a string (htmlReplacer with htmlReplacementTable): the
// five HTML specials and '+' become entities, NUL becomes U+FFFD, and every
// other byte, invalid UTF-8 included, is written as it is.
func escapeHTML(b *strings.Builder, s string) {
	written := 0
	for i := 0; i < len(s); i++ {
		var repl string
		switch s[i] {
		case 0:
			repl = "\uFFFD"
		case '"':
			repl = "&#34;"
		case '&':
			repl = "&amp;"
		case '\'':
			repl = "&#39;"
		case '+':
			repl = "&#43;"
		case '<':
			repl = "&lt;"
		case '>':
			repl = "&gt;"
		default:
			continue
		}
		b.WriteString(s[written:i])
		b.WriteString(repl)
		written = i + 1
	}
	b.WriteString(s[written:])
}

// escapeURL writes s as html/template writes a value that starts a quoted
// URL attribute (href, src): urlFilter (#ZgotmplZ for a scheme other than
// http, https or mailto), then urlNormalizer (percent-encoding, lower-case
// hex, of every byte that is neither unreserved nor reserved, keeping valid
// %XX escapes), then the attribute escaper, of which only '&' and '+' are
// left to escape after normalizing.
func escapeURL(b *strings.Builder, s string) {
	if scheme, _, ok := strings.Cut(s, ":"); ok && !strings.Contains(scheme, "/") &&
		!strings.EqualFold(scheme, "http") && !strings.EqualFold(scheme, "https") && !strings.EqualFold(scheme, "mailto") {
		b.WriteString("#ZgotmplZ")
		return
	}
	const hex = "0123456789abcdef"
	written := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
			continue
		}
		switch c {
		case '-', '.', '_', '~', '!', '#', '$', '*', ',', '/', ':', ';', '=', '?', '@', '[', ']':
			continue
		case '%':
			if i+2 < len(s) && isHexDigit(s[i+1]) && isHexDigit(s[i+2]) {
				continue
			}
		}
		b.WriteString(s[written:i])
		switch c {
		case '&':
			b.WriteString("&amp;")
		case '+':
			b.WriteString("&#43;")
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		}
		written = i + 1
	}
	b.WriteString(s[written:])
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
