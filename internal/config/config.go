// Package config reads Laurel's LAUREL_* environment variables.
package config

import (
	"cmp"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"reflect"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/laurel-edu/laurel/internal/secret"
)

// Config is the process configuration; see the README's table.
type Config struct {
	DatabaseURL string `env:"LAUREL_DATABASE_URL"`
	RedisURL    string `env:"LAUREL_REDIS_URL"`
	BaseURL     string `env:"LAUREL_BASE_URL" envDefault:"http://localhost:8080"`
	Listen      string `env:"LAUREL_LISTEN" envDefault:":8080"`
	SecretKey   string `env:"LAUREL_SECRET_KEY"`
	SMTPURL     string `env:"LAUREL_SMTP_URL"`
	// SMTPConnections is LAUREL_SMTP_CONNECTIONS, 0 when unset; SMTPPool is
	// the number in effect.
	SMTPConnections   int    `env:"LAUREL_SMTP_CONNECTIONS"`
	MailFrom          string `env:"LAUREL_MAIL_FROM" envDefault:"Laurel <no-reply@localhost>"`
	LiveEventsJWKSURL string `env:"LAUREL_LIVE_EVENTS_JWKS_URL" envDefault:"https://8axpcl50e4.execute-api.us-east-1.amazonaws.com/main/jwks"`
	// ReconcileInterval is how often the rule engine checks every mapped
	// course against its platform (Canvas, Moodle).
	ReconcileInterval time.Duration `env:"LAUREL_RECONCILE_INTERVAL" envDefault:"1h"`
	// AssistantsMayMap lets TAs and course designers map their course and ask
	// for a completion check; by default they get a read-only view.
	AssistantsMayMap bool `env:"LAUREL_ASSISTANTS_MAY_MAP" envDefault:"false"`
	// AllowHTTPPlatforms lets Dynamic Registration and platform URLs use
	// plain http and loopback/private addresses (test installations; laurel
	// dev always sets it).
	AllowHTTPPlatforms bool `env:"LAUREL_ALLOW_HTTP_PLATFORMS" envDefault:"false"`
	// MetricsListen serves /metrics on its own address (e.g. 127.0.0.1:9090)
	// and no longer on LAUREL_LISTEN; MetricsToken requires
	// "Authorization: Bearer <token>" for /metrics wherever it is served.
	MetricsListen string `env:"LAUREL_METRICS_LISTEN"`
	MetricsToken  string `env:"LAUREL_METRICS_TOKEN"`
	// NoEngagementCounting stops counting page views, downloads and clicks
	// of published credentials for /insights (docs/insight.md): the page
	// then links LinkedIn and the share sites directly.
	NoEngagementCounting bool `env:"LAUREL_NO_ENGAGEMENT_COUNTING" envDefault:"false"`

	// Keys is derived from SecretKey by Validate.
	Keys *secret.Keys `env:"-"`
}

// Load reads the environment without validating it, so `laurel dev` can fill
// the gaps before Validate runs.
func Load() (Config, error) {
	var c Config
	if err := env.Parse(&c); err != nil {
		// The library names the struct field; the operator set a variable.
		var pe env.ParseError
		if errors.As(err, &pe) {
			if f, ok := reflect.TypeFor[Config]().FieldByName(pe.Name); ok {
				return c, fmt.Errorf("%s is malformed: %v", f.Tag.Get("env"), pe.Err)
			}
		}
		return c, fmt.Errorf("read environment: %w", err)
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	return c, nil
}

// Validate checks every variable a server or worker needs and derives Keys.
// Its error is one line naming the variable that is missing or malformed.
func (c *Config) Validate() error {
	if err := c.ValidateStore(); err != nil {
		return err
	}
	if err := requireURL("LAUREL_REDIS_URL", c.RedisURL, "redis", "rediss", "unix"); err != nil {
		return err
	}
	if err := requireURL("LAUREL_SMTP_URL", c.SMTPURL, "smtp", "smtps"); err != nil {
		return err
	}
	if c.SMTPConnections < 0 || c.SMTPConnections > MaxSMTPConnections {
		return fmt.Errorf("LAUREL_SMTP_CONNECTIONS is %d: want 1 to %d (0: the default, %d)", c.SMTPConnections, MaxSMTPConnections, DefaultSMTPConnections)
	}
	if _, err := mail.ParseAddress(c.MailFrom); err != nil {
		return fmt.Errorf("LAUREL_MAIL_FROM is malformed: %v", err)
	}
	if c.LiveEventsJWKSURL != "" {
		if err := requireURL("LAUREL_LIVE_EVENTS_JWKS_URL", c.LiveEventsJWKSURL, "http", "https"); err != nil {
			return err
		}
	}
	return nil
}

// ValidateStore checks what the administrative commands need (the database,
// the secret key, the base URL) and derives Keys.
func (c *Config) ValidateStore() error {
	if err := requireURL("LAUREL_DATABASE_URL", c.DatabaseURL, "postgres", "postgresql"); err != nil {
		return err
	}
	if err := requireURL("LAUREL_BASE_URL", c.BaseURL, "http", "https"); err != nil {
		return err
	}
	if c.SecretKey == "" {
		return fmt.Errorf("LAUREL_SECRET_KEY is required (≥ 32 random bytes, base64; e.g. `openssl rand -base64 32`)")
	}
	keys, err := secret.Parse(c.SecretKey)
	if err != nil {
		return fmt.Errorf("LAUREL_SECRET_KEY is malformed: %v", err)
	}
	c.Keys = keys
	return nil
}

// DefaultSMTPConnections is LAUREL_SMTP_CONNECTIONS when unset: on 2 cores
// a publish of 100,000 went out in 25–28 s over 12 connections and 29–32 s
// over 8, in alternating runs. MaxSMTPConnections bounds it: each
// connection's job holds its rendered messages, so memory grows with them.
const (
	DefaultSMTPConnections = 12
	MaxSMTPConnections     = 64
)

// SMTPPool is how many connections a process keeps to the SMTP server at
// most (a large publish sends over all of them at once):
// LAUREL_SMTP_CONNECTIONS, or DefaultSMTPConnections when it is unset or 0.
func (c Config) SMTPPool() int { return cmp.Or(c.SMTPConnections, DefaultSMTPConnections) }

func requireURL(name, value string, schemes ...string) error {
	if value == "" {
		return fmt.Errorf("%s is required", name)
	}
	u, err := url.Parse(value)
	if err != nil {
		return fmt.Errorf("%s is malformed: not a URL", name)
	}
	for _, s := range schemes {
		if u.Scheme == s {
			return nil
		}
	}
	return fmt.Errorf("%s is malformed: scheme %q, want one of %s", name, u.Scheme, strings.Join(schemes, ", "))
}
