package issuance

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/issuance/svgcheck"
)

// maxImageBytes bounds an uploaded badge image or logo.
const maxImageBytes = 2 << 20

var colorRE = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// ValidColor reports whether s is a colour as designs store it (#rrggbb).
func ValidColor(s string) bool { return colorRE.MatchString(s) }

type designRow struct {
	ID                int64          `db:"id"`
	Name              string         `db:"name"`
	Kind              string         `db:"kind"`
	Image             []byte         `db:"image"`
	ImageType         sql.NullString `db:"image_type"`
	Title             string         `db:"title"`
	PrimaryColor      string         `db:"primary_color"`
	SecondaryColor    string         `db:"secondary_color"`
	Logo              []byte         `db:"logo"`
	LogoType          sql.NullString `db:"logo_type"`
	PrintedAttributes pq.StringArray `db:"printed_attributes"`
	Layout            string         `db:"layout"`
	ImageSlots        []byte         `db:"image_slots"`
	IsDefault         bool           `db:"is_default"`
	CreatedAt         time.Time      `db:"created_at"`
	UpdatedAt         time.Time      `db:"updated_at"`
}

const designCols = `id, name, kind, image, image_type, title, primary_color, secondary_color, logo, logo_type,
	printed_attributes, layout, image_slots, is_default, created_at, updated_at`

func (r designRow) design() Design {
	slots := map[string]string{}
	_ = json.Unmarshal(r.ImageSlots, &slots) // the column is a JSON object by its default and checkDesign
	return Design{Layout: Layout(r.Layout), ImageSlots: slots, ID: r.ID, Name: r.Name, Kind: DesignKind(r.Kind), Image: r.Image, ImageType: r.ImageType.String,
		Title: r.Title, PrimaryColor: r.PrimaryColor, SecondaryColor: r.SecondaryColor, Logo: r.Logo,
		LogoType: r.LogoType.String, PrintedAttributes: []string(r.PrintedAttributes), IsDefault: r.IsDefault,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// auditDesign is what the audit log keeps of a design (not the image bytes).
func auditDesign(d Design) map[string]any {
	return map[string]any{"name": d.Name, "kind": d.Kind, "title": d.Title, "primary_color": d.PrimaryColor,
		"secondary_color": d.SecondaryColor, "image_type": d.ImageType, "image_bytes": len(d.Image),
		"logo_type": d.LogoType, "logo_bytes": len(d.Logo), "printed_attributes": d.PrintedAttributes, "layout": d.Layout,
		"image_slots": d.ImageSlots, "is_default": d.IsDefault}
}

// imageType returns the MIME type of a PNG or SVG image, or "" and why
// for anything else, an SVG that svgcheck.Problem refuses included ("The image "
// + why reads as a sentence).
func imageType(b []byte) (typ, problem string) {
	if http.DetectContentType(b) == "image/png" {
		return "image/png", ""
	}
	head := b[:min(len(b), 1024)]
	if !bytes.Contains(head, []byte("<svg")) && !bytes.Contains(head, []byte(":svg")) {
		return "", "must be a PNG or SVG file"
	}
	if p := svgcheck.Problem(b); p != "" {
		return "", "must be a PNG or SVG file without scripts, event handlers, foreignObject or references to other files (in this SVG, " + p + ")"
	}
	return "image/svg+xml", ""
}

// checkDesign normalises d and returns its problems. existing is the stored
// design on update (its image counts when d.Image is nil).
func checkDesign(d *Design, existing *Design) []apperr.FieldError {
	var fe []apperr.FieldError
	bad := func(field, msg string) { fe = append(fe, apperr.FieldError{Index: -1, Field: field, Message: msg}) }
	d.Name = strings.TrimSpace(d.Name)
	d.Title = strings.TrimSpace(d.Title)
	switch {
	case d.Name == "":
		bad("name", "Name is required.")
	case len(d.Name) > 200:
		bad("name", "Name must be at most 200 characters.")
	}
	if len(d.Title) > 200 {
		bad("title", "Title must be at most 200 characters.")
	}
	if d.Kind != Badge && d.Kind != Certificate {
		bad("kind", `Kind must be "badge" or "certificate".`)
	}
	if d.PrimaryColor == "" {
		d.PrimaryColor = "#1f3a5f"
	}
	if d.SecondaryColor == "" {
		d.SecondaryColor = "#c9a227"
	}
	if !colorRE.MatchString(d.PrimaryColor) {
		bad("primary_color", "Primary colour must look like #1f3a5f.")
	}
	if !colorRE.MatchString(d.SecondaryColor) {
		bad("secondary_color", "Secondary colour must look like #c9a227.")
	}
	if d.Image != nil {
		if len(d.Image) > maxImageBytes {
			bad("image", "The image must be at most 2 MB.")
		} else if typ, why := imageType(d.Image); typ == "" {
			bad("image", "The image "+why+".")
		} else {
			d.ImageType = typ
		}
	}
	if d.Logo != nil {
		if len(d.Logo) > maxImageBytes {
			bad("logo", "The logo must be at most 2 MB.")
		} else if typ, why := imageType(d.Logo); typ == "" {
			bad("logo", "The logo "+why+".")
		} else {
			d.LogoType = typ
		}
	}
	hasImage := len(d.Image) > 0 || (d.Image == nil && existing != nil && len(existing.Image) > 0)
	if d.Kind == Badge && !hasImage {
		bad("image", "A badge needs an image (PNG or SVG).")
	}
	if d.PrintedAttributes == nil {
		d.PrintedAttributes = []string{}
	}
	fe = append(fe, checkLayout(d)...)
	for i, k := range d.PrintedAttributes {
		d.PrintedAttributes[i] = strings.TrimSpace(k)
		if !attributeKeyRE.MatchString(d.PrintedAttributes[i]) {
			bad("printed_attributes", fmt.Sprintf("%q is not an attribute key.", k))
		}
	}
	return fe
}

// CreateDesign stores a new design. The first design, or one with IsDefault,
// becomes the default for new groups. Invalid input is an apperr.Fields error.
func (s *Service) CreateDesign(ctx context.Context, actor string, d Design) (Design, error) {
	if fe := checkDesign(&d, nil); len(fe) > 0 {
		return Design{}, apperr.Fields("The design has problems.", fe)
	}
	var out Design
	err := db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		var err error
		out, err = s.insertDesign(ctx, tx, actor, d)
		return err
	})
	return out, err
}

func (s *Service) insertDesign(ctx context.Context, tx *sqlx.Tx, actor string, d Design) (Design, error) {
	now := s.Time()
	if d.IsDefault {
		if _, err := tx.ExecContext(ctx, `UPDATE designs SET is_default = false WHERE is_default`); err != nil {
			return Design{}, fmt.Errorf("create design %q: %w", d.Name, err)
		}
	} else {
		var n int
		if err := tx.GetContext(ctx, &n, `SELECT count(*) FROM designs WHERE is_default`); err != nil {
			return Design{}, fmt.Errorf("create design %q: %w", d.Name, err)
		}
		d.IsDefault = n == 0
	}
	const q = `INSERT INTO designs (name, kind, image, image_type, title, primary_color, secondary_color, logo, logo_type,
			printed_attributes, is_default, created_at, updated_at, layout, image_slots)
		VALUES ($1, $2, $3, NULLIF($4, ''), $5, $6, $7, $8, NULLIF($9, ''), $10, $11, $12, $12, $13, $14)
		RETURNING ` + designCols
	var r designRow
	err := tx.GetContext(ctx, &r, q, d.Name, d.Kind, d.Image, d.ImageType, d.Title, d.PrimaryColor, d.SecondaryColor,
		d.Logo, d.LogoType, pq.StringArray(d.PrintedAttributes), d.IsDefault, now, d.Layout, slotsJSON(d.ImageSlots))
	if err != nil {
		return Design{}, fmt.Errorf("create design %q: %w", d.Name, err)
	}
	out := r.design()
	if err := audit(ctx, tx, now, actor, "create", "design", fmt.Sprint(out.ID), nil, auditDesign(out)); err != nil {
		return Design{}, err
	}
	return out, nil
}

// UpdateDesign changes design d.ID. A nil Image or Logo keeps the stored one.
// only is the caller's group limit (nil: every group): a design that a group
// outside it uses is read-only to the caller (docs/roles.md: a team member
// manages a design only where every group using it is theirs), since a
// change would alter those groups' credentials. Errors: NotFound for an
// unknown design, Forbidden for a design used outside only, Invalid.
func (s *Service) UpdateDesign(ctx context.Context, actor string, only []int64, d Design) (Design, error) {
	var out Design
	err := db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		// The row lock conflicts with the key-share lock a group's insert or
		// design change takes on its design, so no group can start using this
		// design between the check below and the update.
		var r designRow
		err := tx.GetContext(ctx, &r, `SELECT `+designCols+` FROM designs WHERE id = $1 FOR UPDATE`, d.ID)
		if errors.Is(err, sql.ErrNoRows) {
			return apperr.Errorf(apperr.NotFound, "Design %d does not exist.", d.ID)
		}
		if err != nil {
			return fmt.Errorf("update design %d: %w", d.ID, err)
		}
		old := r.design()
		if n, err := designUsersOutside(ctx, tx, d.ID, only); err != nil {
			return err
		} else if n > 0 {
			return DesignReadOnly(old.Name, n)
		}
		if d.Layout == "" && d.Kind == old.Kind {
			d.Layout = old.Layout // a caller that does not name a layout keeps it
		}
		if fe := checkDesign(&d, &old); len(fe) > 0 {
			return apperr.Fields("The design has problems.", fe)
		}
		now := s.Time()
		if d.IsDefault && !old.IsDefault {
			if _, err := tx.ExecContext(ctx, `UPDATE designs SET is_default = false WHERE is_default`); err != nil {
				return fmt.Errorf("update design %d: %w", d.ID, err)
			}
		}
		// The default can move to another design but never vanish.
		d.IsDefault = d.IsDefault || old.IsDefault
		const q = `UPDATE designs SET name = $2, kind = $3, image = COALESCE($4, image),
				image_type = COALESCE(NULLIF($5, ''), image_type), title = $6, primary_color = $7, secondary_color = $8,
				logo = COALESCE($9, logo), logo_type = COALESCE(NULLIF($10, ''), logo_type), printed_attributes = $11,
				is_default = $12, updated_at = $13, layout = $14, image_slots = $15
			WHERE id = $1 RETURNING ` + designCols
		if err := tx.GetContext(ctx, &r, q, d.ID, d.Name, d.Kind, d.Image, d.ImageType, d.Title, d.PrimaryColor,
			d.SecondaryColor, d.Logo, d.LogoType, pq.StringArray(d.PrintedAttributes), d.IsDefault, now, d.Layout,
			slotsJSON(d.ImageSlots)); err != nil {
			return fmt.Errorf("update design %d: %w", d.ID, err)
		}
		out = r.design()
		return audit(ctx, tx, now, actor, "update", "design", fmt.Sprint(d.ID), auditDesign(old), auditDesign(out))
	})
	return out, err
}

// designUsersOutside counts the groups outside only (nil: every group, so
// none is outside) that use design id.
func designUsersOutside(ctx context.Context, q sqlx.QueryerContext, id int64, only []int64) (int, error) {
	if only == nil {
		return 0, nil
	}
	const sq = `SELECT count(*) FROM groups WHERE design_id = $1 AND NOT (id = ANY($2::bigint[]))`
	var n int
	if err := sqlx.GetContext(ctx, q, &n, sq, id, pq.Array(only)); err != nil {
		return 0, fmt.Errorf("groups using design %d outside %v: %w", id, only, err)
	}
	return n, nil
}

// DesignReadOnly is the Forbidden error for a design used by n groups
// outside the caller's.
func DesignReadOnly(name string, n int) error {
	return apperr.Errorf(apperr.Forbidden, "Design “%s” is also used by %s you do not work in, so you cannot change it: a change would alter their credentials. An owner or admin can change it.", name, groupsCount(n))
}

func groupsCount(n int) string {
	if n == 1 {
		return "1 group"
	}
	return fmt.Sprintf("%d groups", n)
}

// DesignsUsedOutside returns, for each design used by groups outside only,
// how many such groups use it; only nil (every group) gives an empty map.
// Those designs are read-only to a caller limited to only (see UpdateDesign).
func (s *Service) DesignsUsedOutside(ctx context.Context, only []int64) (map[int64]int, error) {
	out := map[int64]int{}
	if only == nil {
		return out, nil
	}
	const q = `SELECT design_id, count(*) AS n FROM groups WHERE NOT (id = ANY($1::bigint[])) GROUP BY design_id`
	var rows []struct {
		DesignID int64 `db:"design_id"`
		N        int   `db:"n"`
	}
	if err := s.DB.SelectContext(ctx, &rows, q, pq.Array(only)); err != nil {
		return nil, fmt.Errorf("designs used outside groups %v: %w", only, err)
	}
	for _, r := range rows {
		out[r.DesignID] = r.N
	}
	return out, nil
}

// Design returns design id (with its images), or NotFound.
func (s *Service) Design(ctx context.Context, id int64) (Design, error) {
	var r designRow
	err := s.DB.GetContext(ctx, &r, `SELECT `+designCols+` FROM designs WHERE id = $1`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return Design{}, apperr.Errorf(apperr.NotFound, "Design %d does not exist.", id)
	}
	if err != nil {
		return Design{}, fmt.Errorf("design %d: %w", id, err)
	}
	return r.design(), nil
}

// Designs lists every design by name, without image bytes.
func (s *Service) Designs(ctx context.Context) ([]Design, error) {
	const q = `SELECT id, name, kind, NULL::bytea AS image, image_type, title, primary_color, secondary_color,
			NULL::bytea AS logo, logo_type, printed_attributes, layout, image_slots, is_default, created_at, updated_at
		FROM designs ORDER BY lower(name), id`
	var rows []designRow
	if err := s.DB.SelectContext(ctx, &rows, q); err != nil {
		return nil, fmt.Errorf("designs: %w", err)
	}
	out := make([]Design, len(rows))
	for i, r := range rows {
		out[i] = r.design()
	}
	return out, nil
}

// DefaultDesign returns the default design, creating the built-in certificate
// design when there is none yet (a fresh installation).
func (s *Service) DefaultDesign(ctx context.Context) (Design, error) {
	for range 3 {
		var r designRow
		err := s.DB.GetContext(ctx, &r, `SELECT `+designCols+` FROM designs WHERE is_default`)
		if err == nil {
			return r.design(), nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return Design{}, fmt.Errorf("default design: %w", err)
		}
		_, err = s.CreateDesign(ctx, "system", Design{Name: "Certificate", Kind: Certificate, Title: "Certificate of Completion",
			PrintedAttributes: []string{"recipient_name", "course_name", "issued_on"}, IsDefault: true})
		if _, ok := db.IsUniqueViolation(err); err != nil && !ok {
			return Design{}, fmt.Errorf("default design: %w", err)
		}
	}
	return Design{}, fmt.Errorf("default design: none after creating one")
}

// AttributeChoice is a custom attribute a design may print, with the
// groups that define it.
type AttributeChoice struct {
	Attribute
	Groups []string // names of the groups defining the key
	// UsesDesign says one of those groups uses the design in question.
	UsesDesign bool
	// NotPublicIn names those groups where the attribute is not public,
	// whose certificates never draw it.
	NotPublicIn []string
}

// AttributeChoices lists the custom attributes defined by the groups in
// only (nil = every group), by key, for the design form: a design prints
// attributes by key, and the groups are where keys are defined. designID
// (0 for a new design) marks the keys of groups that use it and orders
// them first.
func (s *Service) AttributeChoices(ctx context.Context, only []int64, designID int64) ([]AttributeChoice, error) {
	if only != nil && len(only) == 0 {
		return nil, nil
	}
	const q = `SELECT name, design_id, attributes FROM groups
		WHERE $1::bigint[] IS NULL OR id = ANY($1) ORDER BY lower(name), id`
	var ids any
	if only != nil {
		ids = pq.Array(only)
	}
	var rows []struct {
		Name       string `db:"name"`
		DesignID   int64  `db:"design_id"`
		Attributes []byte `db:"attributes"`
	}
	if err := s.DB.SelectContext(ctx, &rows, q, ids); err != nil {
		return nil, fmt.Errorf("attribute choices %v: %w", only, err)
	}
	var out []AttributeChoice
	at := map[string]int{}
	for _, r := range rows {
		var attrs []Attribute
		if err := json.Unmarshal(r.Attributes, &attrs); err != nil {
			return nil, fmt.Errorf("attribute choices: group %q: %w", r.Name, err)
		}
		for _, a := range attrs {
			i, ok := at[a.Key]
			if !ok {
				i = len(out)
				at[a.Key] = i
				out = append(out, AttributeChoice{Attribute: a})
			}
			out[i].Groups = append(out[i].Groups, r.Name)
			if !a.Visibility.Shows(AudiencePublic) {
				out[i].NotPublicIn = append(out[i].NotPublicIn, r.Name)
			}
			if designID != 0 && r.DesignID == designID {
				out[i].UsesDesign = true
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].UsesDesign && !out[j].UsesDesign })
	return out, nil
}
