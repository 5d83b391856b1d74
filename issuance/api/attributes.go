package api

import (
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/internal/staffui"
)

// attributeJSON is a variable of the Attributes section with where it is
// used (the groups limited to what the token may see).
type attributeJSON struct {
	issuance.AttributeVariable
	UsedBy issuance.AttributeUses `json:"used_by"`
}

func (a *api) attributes(c *gin.Context) error {
	p := auth.Current(c)
	if err := p.Require(auth.ViewCredentials); err != nil {
		return err
	}
	ctx := c.Request.Context()
	vars, err := a.s.AttributeVariables(ctx, true)
	if err != nil {
		return err
	}
	uses, err := a.s.AttributeVariableUses(ctx)
	if err != nil {
		return err
	}
	out := make([]attributeJSON, 0, len(vars))
	for _, v := range vars {
		u := uses[v.Key]
		j := attributeJSON{AttributeVariable: v, UsedBy: issuance.AttributeUses{Groups: []issuance.AttributeUse{}, Designs: []issuance.AttributeUse{}}}
		for _, g := range u.Groups {
			if p.Groups == nil || slices.Contains(p.Groups, g.ID) {
				j.UsedBy.Groups = append(j.UsedBy.Groups, g)
			}
		}
		j.UsedBy.Designs = append(j.UsedBy.Designs, u.Designs...)
		out = append(out, j)
	}
	c.JSON(http.StatusOK, gin.H{"attributes": out})
	return nil
}

// attributeBody is a new variable as the API accepts it.
type attributeBody struct {
	Key        string                 `json:"key"`
	Label      string                 `json:"label"`
	Type       issuance.AttributeType `json:"type"`
	Visibility issuance.Visibility    `json:"visibility"`
	ResultType issuance.ResultType    `json:"result_type"`
}

// createAttribute: whoever may create a group may create a variable for it.
func (a *api) createAttribute(c *gin.Context) error {
	p := auth.Current(c)
	if err := staffui.RequireNewGroup(c.Request.Context(), a.s, p); err != nil {
		return err
	}
	var b attributeBody
	if err := decode(c, &b); err != nil {
		return err
	}
	v, err := a.s.CreateAttributeVariable(c.Request.Context(), p.Actor(), issuance.AttributeVariable{Key: b.Key, Label: b.Label,
		Type: b.Type, Visibility: b.Visibility, ResultType: b.ResultType})
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, v)
	return nil
}

// attributePatch renames and/or retires (or restores) a variable.
type attributePatch struct {
	Label   *string `json:"label"`
	Retired *bool   `json:"retired"`
}

// patchAttribute is for owners and admins: it changes every group that
// uses the variable.
func (a *api) patchAttribute(c *gin.Context) error {
	p := auth.Current(c)
	if err := p.Require(auth.ManageGroups); err != nil {
		return err
	}
	if p.Role != auth.Owner && p.Role != auth.Admin {
		return apperr.Errorf(apperr.Forbidden, "Only an owner or an admin can rename or retire an attribute variable.")
	}
	var b attributePatch
	if err := decode(c, &b); err != nil {
		return err
	}
	ctx, key := c.Request.Context(), c.Param("key")
	v, err := a.s.AttributeVariable(ctx, key)
	if err != nil {
		return err
	}
	if b.Label != nil {
		if v, err = a.s.RenameAttributeVariable(ctx, p.Actor(), key, *b.Label); err != nil {
			return err
		}
	}
	if b.Retired != nil {
		if v, err = a.s.RetireAttributeVariable(ctx, p.Actor(), key, *b.Retired); err != nil {
			return err
		}
	}
	c.JSON(http.StatusOK, v)
	return nil
}
