package staff

import (
	"context"
	"io"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/public"
)

// groupImageView is one image attribute on the group page: its label and
// whether the group holds its image yet.
type groupImageView struct {
	Key, Label string
	Public     bool
	Has        bool
	Version    int64
	Error      string
}

// groupImageViews lists g's image attributes with their stored images;
// problem (when not "") is shown against key.
func (u *ui) groupImageViews(ctx context.Context, g issuance.Group, key, problem string) ([]groupImageView, error) {
	attrs := g.ImageAttributes()
	if len(attrs) == 0 {
		return nil, nil
	}
	imgs, err := u.s.Core.GroupImages(ctx, g.ID)
	if err != nil {
		return nil, err
	}
	out := make([]groupImageView, 0, len(attrs))
	for _, a := range attrs {
		v := groupImageView{Key: a.Key, Label: a.Label, Public: g.Visible(a.Key, issuance.AudiencePublic)}
		for _, im := range imgs {
			if im.Key == a.Key {
				v.Has, v.Version = true, im.UpdatedAt.Unix()
			}
		}
		if a.Key == key {
			v.Error = problem
		}
		out = append(out, v)
	}
	return out, nil
}

// groupImageUpload is POST /groups/:id/images/:key: the image of one image
// attribute (PNG, JPEG or SVG; the core checks it). A refused file
// re-renders the group page with the reason next to its upload.
func (u *ui) groupImageUpload(c *gin.Context) error {
	g, p, err := u.groupFor(c, auth.ManageGroups)
	if err != nil {
		return err
	}
	key := c.Param("key")
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, 2*issuance.MaxImageBytes)
	var data []byte
	problem := ""
	if fh, err := c.FormFile("image"); err == http.ErrMissingFile {
		problem = "Choose an image file to upload."
	} else if err != nil {
		problem = "The upload could not be read (files may be at most 1 MiB)."
	} else if f, err := fh.Open(); err != nil {
		problem = "The upload could not be read."
	} else {
		data, err = io.ReadAll(io.LimitReader(f, issuance.MaxImageBytes+1))
		f.Close()
		if err != nil {
			problem = "The upload could not be read."
		}
	}
	if problem == "" {
		err := u.s.Core.SetGroupImage(c.Request.Context(), p.Actor(), g.ID, key, data)
		if err == nil {
			auth.SetFlash(c, "Image saved.")
			return seeOther(c, "/groups/"+strconv.FormatInt(g.ID, 10)+"#group-images")
		}
		if !apperr.Is(err, apperr.Invalid) {
			return err
		}
		problem = apperr.Message(err)
		for _, f := range apperr.FieldErrors(err) {
			problem = f.Message
		}
	}
	c.Set(groupImageProblemKey, [2]string{key, problem})
	c.Status(http.StatusUnprocessableEntity)
	return u.groupOverview(c)
}

// groupImageProblemKey carries a refused upload into the re-rendered group
// page.
const groupImageProblemKey = "laurel.group_image_problem"

// groupImageRemove is POST /groups/:id/images/:key/remove.
func (u *ui) groupImageRemove(c *gin.Context) error {
	g, p, err := u.groupFor(c, auth.ManageGroups)
	if err != nil {
		return err
	}
	if err := u.s.Core.RemoveGroupImage(c.Request.Context(), p.Actor(), g.ID, c.Param("key")); err != nil {
		return err
	}
	auth.SetFlash(c, "Image removed.")
	return seeOther(c, "/groups/"+strconv.FormatInt(g.ID, 10)+"#group-images")
}

// groupImage is GET /groups/:id/images/:key: the stored image, served inert
// like design images.
func (u *ui) groupImage(c *gin.Context) error {
	g, _, err := u.groupFor(c, auth.ViewCredentials)
	if err != nil {
		return err
	}
	im, err := u.s.Core.GroupImageOf(c.Request.Context(), g.ID, c.Param("key"))
	if err != nil {
		return err
	}
	public.WriteImage(c, im.Image, im.Type, im.UpdatedAt.Unix())
	c.Header("Cache-Control", "private, max-age=300")
	return nil
}
