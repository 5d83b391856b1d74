package lti

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/cache"
	"github.com/laurel-edu/laurel/internal/db"
)

// Platform is one LMS registration that launches Laurel: an issuer plus the
// client_id it gave us. Several may share an issuer (every Instructure-hosted
// Canvas uses https://canvas.instructure.com), so nothing is keyed on the
// issuer alone.
type Platform struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	Issuer   string `json:"issuer"`
	ClientID string `json:"client_id"`
	AuthURL  string `json:"auth_url"`
	TokenURL string `json:"token_url"`
	JWKSURL  string `json:"jwks_url"`
	// GrantedScopes are the scopes the platform granted at dynamic
	// registration; nil when unknown (manual registration).
	GrantedScopes []string `json:"granted_scopes,omitempty"`
	// AutoRegisterDeployments accepts and records an unknown deployment_id on
	// its first launch instead of refusing it.
	AutoRegisterDeployments bool      `json:"auto_register_deployments"`
	Disabled                bool      `json:"disabled"`
	CreatedAt               time.Time `json:"created_at"`
	UpdatedAt               time.Time `json:"updated_at"`
}

// PlatformInput is what an admin gives to add or update a platform. For an
// issuer the PlatformExtension knows (Instructure-hosted Canvas) only Issuer
// and ClientID are needed: its endpoints are filled in.
type PlatformInput struct {
	Name     string
	Issuer   string
	ClientID string
	AuthURL  string
	TokenURL string
	JWKSURL  string
	// DeploymentIDs are added to the platform's known deployments.
	DeploymentIDs []string
	// Extra are the PlatformExtension's settings (package canvas: the
	// Canvas URL and API token), by field name; an absent key keeps the
	// stored value.
	Extra map[string]string
	// AutoRegisterDeployments, when nil on add, is true only when no
	// DeploymentIDs are given.
	AutoRegisterDeployments *bool
	Disabled                *bool
	GrantedScopes           []string
}

// Registry stores platforms and their deployments in PostgreSQL. Launch
// lookups (platform by id or issuer + client_id, known deployments, the
// extension's frame origins) are cached in memory for registryCacheFor, so a
// launch costs one query less each; a change made through this Registry
// clears the cache at once, one made by another instance is seen within
// registryCacheFor.
type Registry struct {
	db *sqlx.DB

	mu  sync.Mutex
	ext PlatformExtension // guarded by mu

	byID     *cache.TTL[int64, Platform]
	byIssuer *cache.TTL[[2]string, Platform]
	deps     *cache.TTL[depKey, struct{}]
	frames   *cache.TTL[int64, []string]
	all      *cache.TTL[struct{}, []Platform]
}

// registryCacheFor bounds how long a cached platform or deployment is
// trusted; registryCacheMax bounds each of the Registry's caches, which
// launches with forged ids must not grow without end.
const (
	registryCacheFor = 5 * time.Second
	registryCacheMax = 10000
)

type depKey struct {
	platform   int64
	deployment string
}

// NewRegistry returns a Registry on d. Install a PlatformExtension with
// SetExtension for settings other packages keep per platform.
func NewRegistry(d *sqlx.DB) *Registry {
	return &Registry{
		db:       d,
		byID:     cache.New[int64, Platform](registryCacheFor, registryCacheMax, nil),
		byIssuer: cache.New[[2]string, Platform](registryCacheFor, registryCacheMax, nil),
		deps:     cache.New[depKey, struct{}](registryCacheFor, registryCacheMax, nil),
		frames:   cache.New[int64, []string](registryCacheFor, registryCacheMax, nil),
		all:      cache.New[struct{}, []Platform](registryCacheFor, 0, nil),
	}
}

func (r *Registry) clearCache() {
	r.byID.Invalidate()
	r.byIssuer.Invalidate()
	r.deps.Invalidate()
	r.frames.Invalidate()
	r.all.Invalidate()
}

func (r *Registry) remember(p Platform) {
	r.byID.Set(p.ID, p)
	r.byIssuer.Set([2]string{p.Issuer, p.ClientID}, p)
}

// launchPlatform is Platform through the cache (launch path only).
func (r *Registry) launchPlatform(ctx context.Context, id int64) (Platform, error) {
	if p, ok := r.byID.Get(id); ok {
		return p, nil
	}
	p, err := r.Platform(ctx, id)
	if err == nil {
		r.remember(p)
	}
	return p, err
}

// frameOrigins is the extension's FrameOrigins of platform id through the
// cache: every request inside a launch's iframe asks for them.
func (r *Registry) frameOrigins(ctx context.Context, id int64) []string {
	ext := r.Extension()
	if ext == nil {
		return nil
	}
	if o, ok := r.frames.Get(id); ok {
		return o
	}
	o := ext.FrameOrigins(ctx, id)
	r.frames.Set(id, o)
	return o
}

// launchPlatformByIssuerClient is PlatformByIssuerClient through the cache.
func (r *Registry) launchPlatformByIssuerClient(ctx context.Context, issuer, clientID string) (Platform, error) {
	if p, ok := r.byIssuer.Get([2]string{issuer, clientID}); ok {
		return p, nil
	}
	p, err := r.PlatformByIssuerClient(ctx, issuer, clientID)
	if err == nil {
		r.remember(p)
	}
	return p, err
}

type platformRow struct {
	ID                      int64     `db:"id"`
	Name                    string    `db:"name"`
	Issuer                  string    `db:"issuer"`
	ClientID                string    `db:"client_id"`
	AuthURL                 string    `db:"auth_url"`
	TokenURL                string    `db:"token_url"`
	JWKSURL                 string    `db:"jwks_url"`
	GrantedScopes           string    `db:"granted_scopes"`
	AutoRegisterDeployments bool      `db:"auto_register_deployments"`
	Disabled                bool      `db:"disabled"`
	CreatedAt               time.Time `db:"created_at"`
	UpdatedAt               time.Time `db:"updated_at"`
}

func (r platformRow) platform() Platform {
	p := Platform{
		ID: r.ID, Name: r.Name, Issuer: r.Issuer, ClientID: r.ClientID, AuthURL: r.AuthURL,
		TokenURL: r.TokenURL, JWKSURL: r.JWKSURL,
		AutoRegisterDeployments: r.AutoRegisterDeployments, Disabled: r.Disabled,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
	if r.GrantedScopes != "" {
		p.GrantedScopes = strings.Fields(r.GrantedScopes)
	}
	return p
}

const platformColumns = `id, name, issuer, client_id, auth_url, token_url, jwks_url,
	granted_scopes, auto_register_deployments, disabled, created_at, updated_at`

// checkURL validates one endpoint URL for the admin: absolute http(s).
func checkURL(field, v string, required bool) *apperr.FieldError {
	if v == "" {
		if required {
			return &apperr.FieldError{Index: -1, Field: field, Message: fmt.Sprintf("%s is required", field)}
		}
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return &apperr.FieldError{Index: -1, Field: field, Message: fmt.Sprintf("%s %q is not an absolute http(s) URL", field, v)}
	}
	return nil
}

// normalize fills a known issuer's endpoints and validates the input, the
// extension's values of platform id (0 when adding) included.
func (r *Registry) normalize(ctx context.Context, in *PlatformInput, id int64) error {
	adding := id == 0
	in.Issuer = strings.TrimSpace(in.Issuer)
	in.ClientID = strings.TrimSpace(in.ClientID)
	in.Name = strings.TrimSpace(in.Name)
	if k, ok := r.KnownEndpoints(in.Issuer); ok {
		in.Issuer = k.Issuer
		if in.AuthURL == "" {
			in.AuthURL = k.AuthURL
		}
		if in.TokenURL == "" {
			in.TokenURL = k.TokenURL
		}
		if in.JWKSURL == "" {
			in.JWKSURL = k.JWKSURL
		}
	}
	if in.Name == "" && adding {
		if ext := r.Extension(); ext != nil && len(in.Extra) > 0 {
			in.Name = ext.DefaultName(in.Extra)
		}
		if u, err := url.Parse(in.Issuer); in.Name == "" && err == nil && u.Host != "" {
			in.Name = u.Host
		}
	}
	var fe []apperr.FieldError
	add := func(e *apperr.FieldError) {
		if e != nil {
			fe = append(fe, *e)
		}
	}
	if in.Name == "" {
		add(&apperr.FieldError{Index: -1, Field: "name", Message: "name is required"})
	}
	add(checkURL("issuer", in.Issuer, true))
	if in.ClientID == "" {
		add(&apperr.FieldError{Index: -1, Field: "client_id", Message: "client_id is required"})
	}
	add(checkURL("auth_url", in.AuthURL, true))
	add(checkURL("jwks_url", in.JWKSURL, true))
	add(checkURL("token_url", in.TokenURL, false))
	for i, d := range in.DeploymentIDs {
		d = strings.TrimSpace(d)
		if d == "" {
			add(&apperr.FieldError{Index: i, Field: "deployment_id", Message: "deployment_id is empty"})
		}
		in.DeploymentIDs[i] = d
	}
	fe = append(fe, r.ValidateExtra(ctx, id, in.Extra)...)
	if len(fe) > 0 {
		msgs := make([]string, len(fe))
		for i, f := range fe {
			msgs[i] = f.Message
		}
		return apperr.Fields("The platform is not valid: "+strings.Join(msgs, "; ")+".", fe)
	}
	return nil
}

// AddPlatform registers a platform with its deployments (and the
// extension's settings, in the same transaction). Unless AutoRegisterDeployments says otherwise, a platform
// added with deployment ids accepts only those, and one added without any
// records its deployments on first launch. It returns a Conflict error when
// (issuer, client_id) is already registered and an Invalid one naming each
// bad field.
func (r *Registry) AddPlatform(ctx context.Context, in PlatformInput) (Platform, error) {
	return r.addPlatform(ctx, in, nil)
}

// addPlatform is AddPlatform; also, when set, runs in the same transaction
// with the new platform's id (Dynamic Registration records its link's use).
func (r *Registry) addPlatform(ctx context.Context, in PlatformInput, also func(tx *sqlx.Tx, id int64) error) (Platform, error) {
	if err := r.normalize(ctx, &in, 0); err != nil {
		return Platform{}, err
	}
	auto := len(in.DeploymentIDs) == 0
	if in.AutoRegisterDeployments != nil {
		auto = *in.AutoRegisterDeployments
	}
	disabled := in.Disabled != nil && *in.Disabled
	var id int64
	err := db.InTx(ctx, r.db, func(tx *sqlx.Tx) error {
		const q = `INSERT INTO platforms (name, issuer, client_id, auth_url, token_url, jwks_url,
			granted_scopes, auto_register_deployments, disabled)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`
		if err := tx.GetContext(ctx, &id, q, in.Name, in.Issuer, in.ClientID, in.AuthURL, in.TokenURL, in.JWKSURL,
			strings.Join(in.GrantedScopes, " "), auto, disabled); err != nil {
			if _, ok := db.IsUniqueViolation(err); ok {
				return apperr.Errorf(apperr.Conflict, "A platform with issuer %s and client_id %s is already registered.", in.Issuer, in.ClientID)
			}
			return fmt.Errorf("add platform %s %s: %w", in.Issuer, in.ClientID, err)
		}
		if err := r.saveExtraAndDeployments(ctx, tx, id, in.Extra, in.DeploymentIDs); err != nil {
			return err
		}
		if also != nil {
			return also(tx, id)
		}
		return nil
	})
	r.clearCache()
	if err != nil {
		return Platform{}, err
	}
	return r.Platform(ctx, id)
}

// saveExtraAndDeployments stores the extension's settings and adds
// deployments, in the transaction that adds or updates the platform.
func (r *Registry) saveExtraAndDeployments(ctx context.Context, tx *sqlx.Tx, id int64, extra map[string]string, deployments []string) error {
	if err := r.saveExtra(ctx, tx, id, extra); err != nil {
		return err
	}
	for _, d := range deployments {
		if _, err := addDeployment(ctx, tx, id, d, false); err != nil {
			return err
		}
	}
	return nil
}

// UpdatePlatform changes a platform: empty strings and nil pointers keep the
// stored value; DeploymentIDs are added. It returns NotFound, Conflict or
// Invalid errors.
func (r *Registry) UpdatePlatform(ctx context.Context, id int64, in PlatformInput) (Platform, error) {
	cur, err := r.Platform(ctx, id)
	if err != nil {
		return Platform{}, err
	}
	merged := in
	pick := func(v, old string) string {
		if strings.TrimSpace(v) == "" {
			return old
		}
		return v
	}
	merged.Name = pick(in.Name, cur.Name)
	merged.Issuer = pick(in.Issuer, cur.Issuer)
	merged.ClientID = pick(in.ClientID, cur.ClientID)
	merged.AuthURL = pick(in.AuthURL, cur.AuthURL)
	merged.TokenURL = pick(in.TokenURL, cur.TokenURL)
	merged.JWKSURL = pick(in.JWKSURL, cur.JWKSURL)
	if err := r.normalize(ctx, &merged, id); err != nil {
		return Platform{}, err
	}
	auto, disabled := cur.AutoRegisterDeployments, cur.Disabled
	if in.AutoRegisterDeployments != nil {
		auto = *in.AutoRegisterDeployments
	}
	if in.Disabled != nil {
		disabled = *in.Disabled
	}
	scopes := strings.Join(cur.GrantedScopes, " ")
	if in.GrantedScopes != nil {
		scopes = strings.Join(in.GrantedScopes, " ")
	}
	err = db.InTx(ctx, r.db, func(tx *sqlx.Tx) error {
		const q = `UPDATE platforms SET name = $2, issuer = $3, client_id = $4, auth_url = $5, token_url = $6,
			jwks_url = $7, auto_register_deployments = $8, disabled = $9, granted_scopes = $10,
			updated_at = now() WHERE id = $1`
		if _, err := tx.ExecContext(ctx, q, id, merged.Name, merged.Issuer, merged.ClientID, merged.AuthURL,
			merged.TokenURL, merged.JWKSURL, auto, disabled, scopes); err != nil {
			if _, ok := db.IsUniqueViolation(err); ok {
				return apperr.Errorf(apperr.Conflict, "A platform with issuer %s and client_id %s is already registered.", merged.Issuer, merged.ClientID)
			}
			return fmt.Errorf("update platform %d: %w", id, err)
		}
		return r.saveExtraAndDeployments(ctx, tx, id, merged.Extra, merged.DeploymentIDs)
	})
	r.clearCache()
	if err != nil {
		return Platform{}, err
	}
	return r.Platform(ctx, id)
}

// SetDisabled switches a platform off (its launches are refused) or on.
func (r *Registry) SetDisabled(ctx context.Context, id int64, disabled bool) error {
	_, err := r.UpdatePlatform(ctx, id, PlatformInput{Disabled: &disabled})
	return err
}

// Platforms lists every platform, oldest first.
func (r *Registry) Platforms(ctx context.Context) ([]Platform, error) {
	var rows []platformRow
	q := `SELECT ` + platformColumns + ` FROM platforms ORDER BY id`
	if err := r.db.SelectContext(ctx, &rows, q); err != nil {
		return nil, fmt.Errorf("list platforms: %w", err)
	}
	out := make([]Platform, len(rows))
	for i, row := range rows {
		out[i] = row.platform()
	}
	return out, nil
}

// launchPlatforms is Platforms through the cache: every refused launch and
// expired launch page frames itself for all platforms, so a flood of forged
// launches must not be a flood of queries.
func (r *Registry) launchPlatforms(ctx context.Context) ([]Platform, error) {
	if ps, ok := r.all.Get(struct{}{}); ok {
		return ps, nil
	}
	ps, err := r.Platforms(ctx)
	if err != nil {
		return nil, err
	}
	r.all.Set(struct{}{}, ps)
	return ps, nil
}

// Platform returns one platform or a NotFound error.
func (r *Registry) Platform(ctx context.Context, id int64) (Platform, error) {
	var row platformRow
	q := `SELECT ` + platformColumns + ` FROM platforms WHERE id = $1`
	if err := r.db.GetContext(ctx, &row, q, id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Platform{}, apperr.Errorf(apperr.NotFound, "Platform %d does not exist.", id)
		}
		return Platform{}, fmt.Errorf("get platform %d: %w", id, err)
	}
	return row.platform(), nil
}

// PlatformByIssuerClient returns the registration (issuer, clientID) or a
// NotFound error naming both.
func (r *Registry) PlatformByIssuerClient(ctx context.Context, issuer, clientID string) (Platform, error) {
	var row platformRow
	q := `SELECT ` + platformColumns + ` FROM platforms WHERE issuer = $1 AND client_id = $2`
	if err := r.db.GetContext(ctx, &row, q, issuer, clientID); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Platform{}, apperr.Errorf(apperr.NotFound, "No platform is registered with issuer %s and client_id %s.", issuer, clientID)
		}
		return Platform{}, fmt.Errorf("get platform %s %s: %w", issuer, clientID, err)
	}
	return row.platform(), nil
}

// PlatformsByIssuer lists the registrations under one issuer.
func (r *Registry) PlatformsByIssuer(ctx context.Context, issuer string) ([]Platform, error) {
	var rows []platformRow
	q := `SELECT ` + platformColumns + ` FROM platforms WHERE issuer = $1 ORDER BY id`
	if err := r.db.SelectContext(ctx, &rows, q, issuer); err != nil {
		return nil, fmt.Errorf("platforms of issuer %s: %w", issuer, err)
	}
	out := make([]Platform, len(rows))
	for i, row := range rows {
		out[i] = row.platform()
	}
	return out, nil
}

// Deployment is one deployment of the tool in a platform.
type Deployment struct {
	ID           int64     `json:"id" db:"id"`
	PlatformID   int64     `json:"platform_id" db:"platform_id"`
	DeploymentID string    `json:"deployment_id" db:"deployment_id"`
	Auto         bool      `json:"auto" db:"auto"`
	CreatedAt    time.Time `json:"created_at" db:"created_at"`
}

func addDeployment(ctx context.Context, ex sqlx.ExtContext, platformID int64, deploymentID string, auto bool) (bool, error) {
	const q = `INSERT INTO deployments (platform_id, deployment_id, auto) VALUES ($1, $2, $3)
		ON CONFLICT (platform_id, deployment_id) DO NOTHING`
	res, err := ex.ExecContext(ctx, q, platformID, deploymentID, auto)
	if err != nil {
		return false, fmt.Errorf("add deployment %q to platform %d: %w", deploymentID, platformID, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// Deployments lists the deployments of a platform.
func (r *Registry) Deployments(ctx context.Context, platformID int64) ([]Deployment, error) {
	var out []Deployment
	const q = `SELECT id, platform_id, deployment_id, auto, created_at FROM deployments WHERE platform_id = $1 ORDER BY id`
	if err := r.db.SelectContext(ctx, &out, q, platformID); err != nil {
		return nil, fmt.Errorf("deployments of platform %d: %w", platformID, err)
	}
	return out, nil
}

// acceptDeployment reports whether deploymentID may launch for p, recording
// it when the platform auto-registers deployments.
func (r *Registry) acceptDeployment(ctx context.Context, p *Platform, deploymentID string) (bool, error) {
	k := depKey{p.ID, deploymentID}
	if _, ok := r.deps.Get(k); ok {
		return true, nil
	}
	known, err := r.checkDeployment(ctx, p, deploymentID)
	if known && err == nil {
		r.deps.Set(k, struct{}{})
	}
	return known, err
}

func (r *Registry) checkDeployment(ctx context.Context, p *Platform, deploymentID string) (bool, error) {
	var n int
	const q = `SELECT count(*) FROM deployments WHERE platform_id = $1 AND deployment_id = $2`
	if err := r.db.GetContext(ctx, &n, q, p.ID, deploymentID); err != nil {
		return false, fmt.Errorf("check deployment %q of platform %d: %w", deploymentID, p.ID, err)
	}
	if n > 0 {
		return true, nil
	}
	if !p.AutoRegisterDeployments {
		return false, nil
	}
	if _, err := addDeployment(ctx, r.db, p.ID, deploymentID, true); err != nil {
		return false, err
	}
	return true, nil
}

// DeploymentCounts counts the known deployments of every platform (one
// query for the whole list rather than one per platform).
func (r *Registry) DeploymentCounts(ctx context.Context) (map[int64]int, error) {
	var rows []struct {
		PlatformID int64 `db:"platform_id"`
		N          int   `db:"n"`
	}
	const q = `SELECT platform_id, count(*) AS n FROM deployments GROUP BY platform_id`
	if err := r.db.SelectContext(ctx, &rows, q); err != nil {
		return nil, fmt.Errorf("count deployments per platform: %w", err)
	}
	out := make(map[int64]int, len(rows))
	for _, row := range rows {
		out[row.PlatformID] = row.N
	}
	return out, nil
}
