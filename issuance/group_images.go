package issuance

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/db"
)

// GroupImage is the one image of a group's image attribute (e.g. the
// signature a certificate design places).
type GroupImage struct {
	GroupID   int64     `db:"group_id"`
	Key       string    `db:"attribute_key"`
	Image     []byte    `db:"image"` // nil when listed without bytes
	Type      string    `db:"image_type"`
	Size      int       `db:"size"`
	UpdatedAt time.Time `db:"updated_at"`
}

// ImageAttributes are the group's image attributes.
func (g Group) ImageAttributes() []Attribute {
	var out []Attribute
	for _, a := range g.Attributes {
		if a.Type == ImageAttr {
			out = append(out, a)
		}
	}
	return out
}

// groupImageType is imageType with JPEG too (a scanned signature is often
// one).
func groupImageType(b []byte) (typ, problem string) {
	if http.DetectContentType(b) == "image/jpeg" {
		return "image/jpeg", ""
	}
	typ, problem = imageType(b)
	if typ == "" && !bytes.Contains(b[:min(len(b), 1024)], []byte("svg")) {
		problem = "must be a PNG, JPEG or SVG file"
	}
	return typ, problem
}

// SetGroupImage stores data as the image of group groupID's image attribute
// key, replacing any before, audited as actor's. Errors: NotFound for an
// unknown group, Invalid (a field error on "image_"+key) for a key that is
// not an image attribute of the group or a file that is not a PNG, JPEG or
// inert SVG of at most MaxImageBytes; nothing is stored then.
func (s *Service) SetGroupImage(ctx context.Context, actor string, groupID int64, key string, data []byte) error {
	return db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		g, err := lockGroup(ctx, tx, groupID)
		if err != nil {
			return err
		}
		a, ok := imageAttribute(g, key)
		field := "image_" + key
		if !ok {
			return apperr.Fields("The image was not stored.", []apperr.FieldError{{Index: -1, Field: field,
				Message: fmt.Sprintf("Group %q has no image attribute %q.", g.Name, key)}})
		}
		typ, why := groupImageType(data)
		switch {
		case len(data) == 0:
			why = "is empty"
		case len(data) > MaxImageBytes:
			typ, why = "", fmt.Sprintf("is %d KiB; at most 1024 KiB (1 MiB) is allowed", len(data)/1024)
		}
		if typ == "" {
			return apperr.Fields("The image was not stored.", []apperr.FieldError{{Index: -1, Field: field,
				Message: fmt.Sprintf("The image for %s %s.", a.Label, why)}})
		}
		now := s.Time()
		const q = `INSERT INTO group_images (group_id, attribute_key, image, image_type, updated_at)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (group_id, attribute_key) DO UPDATE SET image = $3, image_type = $4, updated_at = $5`
		if _, err := tx.ExecContext(ctx, q, groupID, key, data, typ, now); err != nil {
			return fmt.Errorf("set group %d image %q: %w", groupID, key, err)
		}
		return audit(ctx, tx, now, actor, "set_image", "group", fmt.Sprint(groupID), nil,
			map[string]any{"attribute": key, "image_type": typ, "image_bytes": len(data)})
	})
}

// RemoveGroupImage deletes the image of group groupID's attribute key (no
// error when there is none). Errors: NotFound for an unknown group.
func (s *Service) RemoveGroupImage(ctx context.Context, actor string, groupID int64, key string) error {
	return db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		if _, err := lockGroup(ctx, tx, groupID); err != nil {
			return err
		}
		const q = `DELETE FROM group_images WHERE group_id = $1 AND attribute_key = $2`
		res, err := tx.ExecContext(ctx, q, groupID, key)
		if err != nil {
			return fmt.Errorf("remove group %d image %q: %w", groupID, key, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		return audit(ctx, tx, s.Time(), actor, "remove_image", "group", fmt.Sprint(groupID), map[string]any{"attribute": key}, nil)
	})
}

// GroupImages lists the images of group groupID, without their bytes.
func (s *Service) GroupImages(ctx context.Context, groupID int64) ([]GroupImage, error) {
	const q = `SELECT group_id, attribute_key, NULL::bytea AS image, image_type, octet_length(image) AS size, updated_at
		FROM group_images WHERE group_id = $1 ORDER BY attribute_key`
	var out []GroupImage
	if err := s.DB.SelectContext(ctx, &out, q, groupID); err != nil {
		return nil, fmt.Errorf("group %d images: %w", groupID, err)
	}
	return out, nil
}

// GroupImageOf returns the image of group groupID's attribute key, or
// NotFound.
func (s *Service) GroupImageOf(ctx context.Context, groupID int64, key string) (GroupImage, error) {
	const q = `SELECT group_id, attribute_key, image, image_type, octet_length(image) AS size, updated_at
		FROM group_images WHERE group_id = $1 AND attribute_key = $2`
	var out GroupImage
	err := s.DB.GetContext(ctx, &out, q, groupID, key)
	if errors.Is(err, sql.ErrNoRows) {
		return GroupImage{}, apperr.Errorf(apperr.NotFound, "The group has no image for %q.", key)
	}
	if err != nil {
		return GroupImage{}, fmt.Errorf("group %d image %q: %w", groupID, key, err)
	}
	return out, nil
}

func imageAttribute(g Group, key string) (Attribute, bool) {
	for _, a := range g.ImageAttributes() {
		if a.Key == key {
			return a, true
		}
	}
	return Attribute{}, false
}

// lockGroup loads group id for update in tx, or NotFound.
func lockGroup(ctx context.Context, tx *sqlx.Tx, id int64) (Group, error) {
	var r groupRow
	err := tx.GetContext(ctx, &r, `SELECT `+groupCols+groupSettingCols+` FROM groups WHERE id = $1 FOR UPDATE`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return Group{}, apperr.Errorf(apperr.NotFound, "Group %d does not exist.", id)
	}
	if err != nil {
		return Group{}, fmt.Errorf("lock group %d: %w", id, err)
	}
	return r.group()
}

// dropStaleGroupImages erases the images of attributes g no longer has as
// images (removed, or changed to another type): an image is kept only while
// its attribute is one.
func dropStaleGroupImages(ctx context.Context, tx *sqlx.Tx, g Group) error {
	keys := []string{}
	for _, a := range g.ImageAttributes() {
		keys = append(keys, a.Key)
	}
	const q = `DELETE FROM group_images WHERE group_id = $1 AND NOT (attribute_key = ANY($2::text[]))`
	if _, err := tx.ExecContext(ctx, q, g.ID, pq.Array(keys)); err != nil {
		return fmt.Errorf("drop stale images of group %d: %w", g.ID, err)
	}
	return nil
}
