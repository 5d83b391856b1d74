package config_test

import (
	"strings"
	"testing"

	"github.com/laurel-edu/laurel/internal/config"
	"github.com/laurel-edu/laurel/internal/secret"
)

func valid() config.Config {
	return config.Config{
		DatabaseURL: "postgres://u@localhost/laurel",
		RedisURL:    "redis://localhost:6379/0",
		BaseURL:     "https://laurel.example.edu",
		SecretKey:   secret.Generate(),
		SMTPURL:     "smtp://mail.example.edu:25",
		MailFrom:    "Laurel <no-reply@example.edu>",

		SMTPConnections: config.DefaultSMTPConnections,
	}
}

func TestValidateNamesTheVariable(t *testing.T) {
	tests := []struct {
		name   string
		change func(*config.Config)
		want   string
	}{
		{"ok", func(*config.Config) {}, ""},
		{"missing database", func(c *config.Config) { c.DatabaseURL = "" }, "LAUREL_DATABASE_URL is required"},
		{"database scheme", func(c *config.Config) { c.DatabaseURL = "mysql://x" }, "LAUREL_DATABASE_URL is malformed"},
		{"missing redis", func(c *config.Config) { c.RedisURL = "" }, "LAUREL_REDIS_URL is required"},
		{"missing smtp", func(c *config.Config) { c.SMTPURL = "" }, "LAUREL_SMTP_URL is required"},
		{"smtp scheme", func(c *config.Config) { c.SMTPURL = "http://x" }, "LAUREL_SMTP_URL is malformed"},
		{"missing secret", func(c *config.Config) { c.SecretKey = "" }, "LAUREL_SECRET_KEY is required"},
		{"short secret", func(c *config.Config) { c.SecretKey = "c2hvcnQ=" }, "LAUREL_SECRET_KEY is malformed"},
		{"secret not base64", func(c *config.Config) { c.SecretKey = "!!!" }, "LAUREL_SECRET_KEY is malformed"},
		{"bad from", func(c *config.Config) { c.MailFrom = "not an address" }, "LAUREL_MAIL_FROM is malformed"},
		{"bad base url", func(c *config.Config) { c.BaseURL = "ftp://x" }, "LAUREL_BASE_URL is malformed"},
		{"one smtp connection", func(c *config.Config) { c.SMTPConnections = 1 }, ""},
		{"default smtp connections", func(c *config.Config) { c.SMTPConnections = 0 }, ""},
		{"negative smtp connections", func(c *config.Config) { c.SMTPConnections = -1 }, "LAUREL_SMTP_CONNECTIONS is -1: want 1 to 64"},
		{"too many smtp connections", func(c *config.Config) { c.SMTPConnections = 65 }, "LAUREL_SMTP_CONNECTIONS is 65: want 1 to 64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.change(&c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				if c.Keys == nil {
					t.Fatal("Validate did not derive keys")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
		})
	}
}

// LAUREL_SMTP_CONNECTIONS defaults to DefaultSMTPConnections; a number is
// read as given, and anything else is refused naming the variable.
func TestSMTPConnectionsFromTheEnvironment(t *testing.T) {
	t.Setenv("LAUREL_SMTP_CONNECTIONS", "")
	c, err := config.Load()
	if err != nil || c.SMTPPool() != config.DefaultSMTPConnections {
		t.Fatalf("unset: %d, %v; want %d", c.SMTPPool(), err, config.DefaultSMTPConnections)
	}
	t.Setenv("LAUREL_SMTP_CONNECTIONS", "3")
	if c, err = config.Load(); err != nil || c.SMTPPool() != 3 {
		t.Fatalf("3: %d, %v", c.SMTPPool(), err)
	}
	t.Setenv("LAUREL_SMTP_CONNECTIONS", "many")
	if _, err = config.Load(); err == nil || !strings.Contains(err.Error(), "LAUREL_SMTP_CONNECTIONS") {
		t.Fatalf("many: %v, want an error naming LAUREL_SMTP_CONNECTIONS", err)
	}
}
