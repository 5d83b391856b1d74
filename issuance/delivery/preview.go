package delivery

import (
	"context"

	"github.com/laurel-edu/laurel/internal/mail"
	"github.com/laurel-edu/laurel/issuance"
)

// PublishPreview renders the publish email credential cr's recipient will
// receive, as SendEmailBatch would send it now (its group, design and the
// organisation's text): what a Confirm step shows before publishing.
func (s *Service) PublishPreview(ctx context.Context, cr issuance.Credential) (mail.Message, error) {
	g, err := s.Core.Group(ctx, cr.GroupID)
	if err != nil {
		return mail.Message{}, err
	}
	d, err := s.Core.Design(ctx, g.DesignID)
	if err != nil {
		return mail.Message{}, err
	}
	o, err := s.Core.Organisation(ctx)
	if err != nil {
		return mail.Message{}, err
	}
	return s.CredentialEmail(cr, g, d, o, cr.Recipient.Email, "published"), nil
}
