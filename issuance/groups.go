package issuance

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"golang.org/x/text/language"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/internal/text"
)

var attributeKeyRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

// StandardAttributes are the attribute keys every credential has; a group's
// custom attributes may not reuse them.
var StandardAttributes = []Attribute{
	{Key: "recipient_name", Label: "Recipient Name", Type: TextAttr, Required: true, Visibility: VisibilityPublic},
	{Key: "recipient_email", Label: "Recipient Email", Type: TextAttr, Required: true, Visibility: VisibilityRecipient},
	{Key: "issued_on", Label: "Issue Date", Type: DateAttr, Required: true, Visibility: VisibilityPublic},
	{Key: "expires_on", Label: "Expiry Date", Type: DateAttr, Visibility: VisibilityPublic},
	{Key: "group_name", Label: "Group Name", Type: TextAttr, Visibility: VisibilityPublic},
	{Key: "course_name", Label: "Course Name", Type: TextAttr, Visibility: VisibilityPublic},
	{Key: "credential_id", Label: "Credential ID", Type: TextAttr, Visibility: VisibilityPublic},
}

func isStandardKey(k string) bool {
	for _, a := range StandardAttributes {
		if a.Key == k {
			return true
		}
	}
	return false
}

type groupRow struct {
	ID              int64         `db:"id"`
	Name            string        `db:"name"`
	CourseName      string        `db:"course_name"`
	Description     string        `db:"description"`
	CourseLink      string        `db:"course_link"`
	Language        string        `db:"language"`
	DesignID        int64         `db:"design_id"`
	Attributes      []byte        `db:"attributes"`
	ValidityMonths  sql.NullInt32 `db:"validity_months"`
	AllowDuplicates bool          `db:"allow_duplicates"`
	CreatedAt       time.Time     `db:"created_at"`
	UpdatedAt       time.Time     `db:"updated_at"`

	AvailableToInstructors bool `db:"available_to_instructors"`
	AllowAutoPublish       bool `db:"allow_auto_publish"`
}

const groupCols = `id, name, course_name, description, course_link, language, design_id, attributes,
	validity_months, allow_duplicates, created_at, updated_at`

// groupSettingCols are the instructor settings, selected apart from
// groupCols, which other files scan by position.
const groupSettingCols = `, available_to_instructors, allow_auto_publish`

func (r groupRow) group() (Group, error) {
	g := Group{ID: r.ID, Name: r.Name, CourseName: r.CourseName, Description: r.Description, CourseLink: r.CourseLink,
		Language: r.Language, DesignID: r.DesignID, AllowDuplicates: r.AllowDuplicates,
		AvailableToInstructors: r.AvailableToInstructors, AllowAutoPublish: r.AllowAutoPublish, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if r.ValidityMonths.Valid {
		v := int(r.ValidityMonths.Int32)
		g.ValidityMonths = &v
	}
	if err := json.Unmarshal(r.Attributes, &g.Attributes); err != nil {
		return Group{}, fmt.Errorf("group %d attributes: %w", r.ID, err)
	}
	if g.Attributes == nil {
		g.Attributes = []Attribute{}
	}
	return g, nil
}

// auditGroup is what the audit log keeps of a group.
func auditGroup(g Group) map[string]any {
	return map[string]any{"name": g.Name, "course_name": g.CourseName, "description": g.Description,
		"course_link": g.CourseLink, "language": g.Language, "design_id": g.DesignID, "attributes": g.Attributes,
		"validity_months": g.ValidityMonths, "allow_duplicates": g.AllowDuplicates,
		"available_to_instructors": g.AvailableToInstructors, "allow_auto_publish": g.AllowAutoPublish}
}

// checkGroup normalises g and returns its problems, named by API field.
func checkGroup(g *Group) []apperr.FieldError {
	var fe []apperr.FieldError
	bad := func(field, msg string) { fe = append(fe, apperr.FieldError{Index: -1, Field: field, Message: msg}) }
	g.Name = strings.TrimSpace(g.Name)
	g.CourseName = strings.TrimSpace(g.CourseName)
	g.Description = strings.TrimSpace(g.Description)
	g.CourseLink = strings.TrimSpace(g.CourseLink)
	g.Language = strings.TrimSpace(g.Language)
	switch {
	case g.Name == "":
		bad("name", "Name is required.")
	case len(g.Name) > 200:
		bad("name", "Name must be at most 200 characters.")
	}
	switch {
	case g.CourseName == "":
		bad("course_name", "Course name is required.")
	case len(g.CourseName) > 200:
		bad("course_name", "Course name must be at most 200 characters.")
	}
	if len(g.Description) > 5000 {
		bad("description", "Description must be at most 5000 characters.")
	}
	// Signed Open Badges achievements carry these texts.
	for _, f := range [][2]string{{"name", g.Name}, {"course_name", g.CourseName}, {"description", g.Description}} {
		if text.Check(f[1]) != nil {
			bad(f[0], "Must not contain control characters (line breaks and tabs are fine).")
		}
	}
	if g.CourseLink != "" && !isWebURL(g.CourseLink) {
		bad("course_link", "Course link must be an http:// or https:// address.")
	}
	if g.Language == "" {
		g.Language = "en"
	}
	if tag, err := language.Parse(g.Language); err != nil {
		bad("language", fmt.Sprintf("%q is not a language code (e.g. en, fr, pt-BR).", g.Language))
	} else {
		g.Language = tag.String()
	}
	if g.ValidityMonths != nil && (*g.ValidityMonths < 1 || *g.ValidityMonths > 1200) {
		bad("validity_months", "Validity must be between 1 and 1200 months, or empty for no expiry.")
	}
	if g.Attributes == nil {
		g.Attributes = []Attribute{}
	}
	seen := map[string]bool{}
	for i := range g.Attributes {
		a := &g.Attributes[i]
		a.Key = strings.TrimSpace(a.Key)
		a.Label = strings.TrimSpace(a.Label)
		f := fmt.Sprintf("attributes[%d]", i)
		switch {
		case !attributeKeyRE.MatchString(a.Key):
			bad(f+".key", fmt.Sprintf("Key %q must start with a letter and use only a-z, 0-9 and _ (at most 40).", a.Key))
		case isStandardKey(a.Key):
			bad(f+".key", fmt.Sprintf("Key %q is a standard attribute; choose another.", a.Key))
		case seen[a.Key]:
			bad(f+".key", fmt.Sprintf("Key %q is used twice.", a.Key))
		}
		seen[a.Key] = true
		if a.Label == "" {
			a.Label = a.Key
		}
		if len(a.Label) > 100 {
			bad(f+".label", "Label must be at most 100 characters.")
		}
		switch {
		case a.Type == "":
			a.Type = TextAttr
		case !slices.Contains(AttributeTypes, a.Type):
			bad(f+".type", fmt.Sprintf("Type %q must be text, number, date, url or image.", a.Type))
		case a.Type == ImageAttr && a.Required:
			bad(f+".required", fmt.Sprintf("%s is an image, which credentials hold no value of: it cannot be required.", a.Label))
		}
		checkAttributeVisibility(a, f, bad)
		checkResultFor(*a, f, bad)
	}
	return fe
}

// jsonAttributes is attrs as the groups.attributes column stores them.
func jsonAttributes(attrs []Attribute) (string, error) {
	b, err := json.Marshal(attrs)
	if err != nil {
		return "", fmt.Errorf("attributes: %w", err)
	}
	return string(b), nil
}

func isWebURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// designError turns a foreign-key failure on design_id into a field error.
func designError(err error, id int64) error {
	var pqe *pq.Error
	if errors.As(err, &pqe) && pqe.Code == "23503" {
		return apperr.Fields("The group has problems.", []apperr.FieldError{{Index: -1, Field: "design_id", Message: fmt.Sprintf("Design %d does not exist.", id)}})
	}
	return nil
}

// CreateGroup stores a new group; DesignID 0 means the default design.
// Invalid input is an apperr.Fields error naming each field.
func (s *Service) CreateGroup(ctx context.Context, actor string, g Group) (Group, error) {
	return s.createGroup(ctx, actor, g, nil)
}

// createGroup is CreateGroup, running then (when not nil) in the same
// transaction once the group exists.
func (s *Service) createGroup(ctx context.Context, actor string, g Group, then func(tx *sqlx.Tx, id int64) error) (Group, error) {
	if strings.TrimSpace(g.Language) == "" {
		// New groups are in the organisation's default language.
		o, err := s.Organisation(ctx)
		if err != nil {
			return Group{}, fmt.Errorf("create group %q: %w", g.Name, err)
		}
		g.Language = o.Language
	}
	// What is wrong whatever the registry says is refused before the
	// default design is made (checkGroup again below, once the registry
	// has filled the attributes in).
	pre := g
	pre.Attributes = slices.Clone(g.Attributes)
	if fe := checkGroup(&pre); len(fe) > 0 {
		return Group{}, apperr.Fields("The group has problems.", fe)
	}
	if g.DesignID == 0 {
		d, err := s.DefaultDesign(ctx)
		if err != nil {
			return Group{}, fmt.Errorf("create group %q: %w", g.Name, err)
		}
		g.DesignID = d.ID
	}
	var out Group
	err := db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		now := s.Time()
		// checkGroup runs inside, once the registry has filled in the
		// attributes (pickAttributes).
		if fe, err := pickAttributes(ctx, tx, now, actor, &g, nil); err != nil {
			return err
		} else if len(fe) > 0 {
			return apperr.Fields("The group has problems.", fe)
		}
		attrs, err := jsonAttributes(g.Attributes)
		if err != nil {
			return err
		}
		const q = `INSERT INTO groups (name, course_name, description, course_link, language, design_id, attributes,
				validity_months, allow_duplicates, available_to_instructors, allow_auto_publish, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $11, $12, $10, $10) RETURNING ` + groupCols + groupSettingCols
		var r groupRow
		if err := tx.GetContext(ctx, &r, q, g.Name, g.CourseName, g.Description, g.CourseLink, g.Language, g.DesignID,
			string(attrs), g.ValidityMonths, g.AllowDuplicates, now, g.AvailableToInstructors, g.AllowAutoPublish); err != nil {
			if derr := designError(err, g.DesignID); derr != nil {
				return derr
			}
			return fmt.Errorf("create group %q: %w", g.Name, err)
		}
		if out, err = r.group(); err != nil {
			return err
		}
		if err := audit(ctx, tx, now, actor, "create", "group", fmt.Sprint(out.ID), nil, auditGroup(out)); err != nil {
			return err
		}
		if then != nil {
			return then(tx, out.ID)
		}
		return nil
	})
	return out, err
}

// UpdateGroup replaces group g.ID's settings (DesignID 0 keeps the current
// design). Forbidding duplicates in a group where a recipient already holds
// two live credentials is a Conflict.
func (s *Service) UpdateGroup(ctx context.Context, actor string, g Group) (Group, error) {
	var out Group
	err := db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		old, err := groupTx(ctx, tx, g.ID, true)
		if err != nil {
			return err
		}
		keepVisibilities(&g, old)
		now := s.Time()
		if fe, err := pickAttributes(ctx, tx, now, actor, &g, &old); err != nil {
			return err
		} else if len(fe) > 0 {
			return apperr.Fields("The group has problems.", fe)
		}
		attrs, err := jsonAttributes(g.Attributes)
		if err != nil {
			return err
		}
		if g.DesignID == 0 {
			g.DesignID = old.DesignID
		}
		const q = `UPDATE groups SET name = $2, course_name = $3, description = $4, course_link = $5, language = $6,
				design_id = $7, attributes = $8, validity_months = $9, allow_duplicates = $10, updated_at = $11,
				available_to_instructors = $12, allow_auto_publish = $13
			WHERE id = $1 RETURNING ` + groupCols + groupSettingCols
		var r groupRow
		if err := tx.GetContext(ctx, &r, q, g.ID, g.Name, g.CourseName, g.Description, g.CourseLink, g.Language,
			g.DesignID, string(attrs), g.ValidityMonths, g.AllowDuplicates, now, g.AvailableToInstructors, g.AllowAutoPublish); err != nil {
			if derr := designError(err, g.DesignID); derr != nil {
				return derr
			}
			return fmt.Errorf("update group %d: %w", g.ID, err)
		}
		if out, err = r.group(); err != nil {
			return err
		}
		if old.AllowDuplicates != out.AllowDuplicates {
			// recipient_key carries the one-live-credential rule; recompute it
			// so the unique index enforces the group's new setting.
			const rk = `UPDATE credentials SET recipient_key = CASE WHEN $2 THEN NULL ELSE lower(recipient_email) END
				WHERE group_id = $1`
			if _, err := tx.ExecContext(ctx, rk, g.ID, out.AllowDuplicates); err != nil {
				if _, ok := db.IsUniqueViolation(err); ok {
					return apperr.Errorf(apperr.Conflict, "Duplicates cannot be forbidden in group %q: %s already holds more than one live credential in it.", out.Name, dupDetail(err))
				}
				return fmt.Errorf("update group %d recipient keys: %w", g.ID, err)
			}
		}
		if out.Name != old.Name || out.CourseName != old.CourseName || out.Description != old.Description ||
			out.CourseLink != old.CourseLink || out.DesignID != old.DesignID || signedAttributesChanged(old, out) {
			// Published credentials embed the achievement: their signatures
			// are stale from now (see PublicCredential.Version); re-sign them.
			if err := achievementChanged(ctx, tx, g.ID, now); err != nil {
				return err
			}
		}
		if err := dropStaleGroupImages(ctx, tx, out); err != nil {
			return err
		}
		return audit(ctx, tx, now, actor, "update", "group", fmt.Sprint(g.ID), auditGroup(old), auditGroup(out))
	})
	return out, err
}

// Group returns group id, or NotFound.
func (s *Service) Group(ctx context.Context, id int64) (Group, error) {
	return groupTx(ctx, s.stmts(), id, false)
}

func groupTx(ctx context.Context, q getter, id int64, lock bool) (Group, error) {
	query := `SELECT ` + groupCols + groupSettingCols + ` FROM groups WHERE id = $1`
	if lock {
		query += ` FOR UPDATE`
	}
	var r groupRow
	err := q.GetContext(ctx, &r, query, id)
	if errors.Is(err, sql.ErrNoRows) {
		return Group{}, apperr.Errorf(apperr.NotFound, "Group %d does not exist.", id)
	}
	if err != nil {
		return Group{}, fmt.Errorf("group %d: %w", id, err)
	}
	return r.group()
}

// getter is a *sqlx.DB, a *sqlx.Tx or a *db.Statements.
type getter interface {
	GetContext(ctx context.Context, dest any, query string, args ...any) error
}

// Groups lists groups by name with their credential counts; only limits the
// list to those ids (nil = every group).
func (s *Service) Groups(ctx context.Context, only []int64) ([]GroupSummary, error) {
	if only != nil && len(only) == 0 {
		return []GroupSummary{}, nil
	}
	const q = `SELECT g.id, g.name, g.course_name, g.description, g.course_link, g.language, g.design_id, g.attributes,
			g.validity_months, g.allow_duplicates, g.available_to_instructors, g.allow_auto_publish, g.created_at, g.updated_at,
			COALESCE(n.unpublished, 0) AS unpublished, COALESCE(n.published, 0) AS published, COALESCE(n.revoked, 0) AS revoked
		FROM groups g
		LEFT JOIN (
			SELECT group_id,
				count(*) FILTER (WHERE state = 'unpublished') AS unpublished,
				count(*) FILTER (WHERE state = 'published') AS published,
				count(*) FILTER (WHERE state = 'revoked') AS revoked
			FROM credentials WHERE ($1::bigint[] IS NULL OR group_id = ANY($1)) GROUP BY group_id
		) n ON n.group_id = g.id
		WHERE $1::bigint[] IS NULL OR g.id = ANY($1)
		ORDER BY lower(g.name), g.id`
	var ids any
	if only != nil {
		ids = pq.Array(only)
	}
	rows, err := s.DB.QueryxContext(ctx, q, ids)
	if err != nil {
		return nil, fmt.Errorf("groups %v: %w", only, err)
	}
	defer rows.Close()
	out := []GroupSummary{}
	for rows.Next() {
		var r struct {
			groupRow
			Unpublished int `db:"unpublished"`
			Published   int `db:"published"`
			Revoked     int `db:"revoked"`
		}
		if err := rows.StructScan(&r); err != nil {
			return nil, fmt.Errorf("groups %v: %w", only, err)
		}
		g, err := r.group()
		if err != nil {
			return nil, err
		}
		out = append(out, GroupSummary{Group: g, Unpublished: r.Unpublished, Published: r.Published, Revoked: r.Revoked})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("groups %v: %w", only, err)
	}
	return out, nil
}

// achievementChanged records that group gid's achievement changed at now
// and queues its published credentials' ChangedJobs.
func achievementChanged(ctx context.Context, tx *sqlx.Tx, gid int64, now time.Time) error {
	const q = `WITH g AS (UPDATE groups SET achievement_changed_at = $2 WHERE id = $1)
		SELECT id FROM credentials WHERE group_id = $1 AND state = 'published' ORDER BY id`
	var ids []string
	if err := tx.SelectContext(ctx, &ids, q, gid, now); err != nil {
		return fmt.Errorf("re-sign group %d: %w", gid, err)
	}
	return enqueueChanged(ctx, tx, ids)
}
