package main

import (
	"context"
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/laurel-edu/laurel/canvas"
	"github.com/laurel-edu/laurel/lti"
	"github.com/laurel-edu/laurel/lti/course"
	"github.com/laurel-edu/laurel/moodle"
)

func (m *Main) platformAdd(ctx context.Context, args []string) error {
	fs := m.flags("platform add")
	var in lti.PlatformInput
	var deployments multiFlag
	fs.StringVar(&in.Name, "name", "", "a name for staff pages (e.g. \"Canvas production\")")
	fs.StringVar(&in.Issuer, "issuer", "", "the platform's issuer (iss)")
	fs.StringVar(&in.ClientID, "client-id", "", "the client_id (Canvas developer key id)")
	fs.StringVar(&in.AuthURL, "auth-url", "", "OIDC authorization endpoint")
	fs.StringVar(&in.TokenURL, "token-url", "", "OAuth2 token endpoint")
	fs.StringVar(&in.JWKSURL, "jwks-url", "", "the platform's JWKS URL")
	fs.Var(&deployments, "deployment-id", "a deployment id (repeatable): only these are accepted; without it deployments are recorded on first launch")
	canvasURL := fs.String("canvas-url", "", "the institution's Canvas base URL (REST API; Live Events hostname)")
	canvasToken := fs.String("canvas-token", "", "a Canvas API token for reconciliation (stored encrypted)")
	moodleURL := fs.String("moodle-url", "", "the Moodle site's address (web services)")
	moodleToken := fs.String("moodle-token", "", "a Moodle web service token for course completion (stored encrypted)")
	if err := parse(fs, args); err != nil {
		return err
	}
	in.DeploymentIDs = deployments
	in.Extra = platformExtra(*canvasURL, *canvasToken, *moodleURL, *moodleToken)
	a, err := m.openStore(ctx)
	if err != nil {
		return err
	}
	p, err := a.LTI.Registry().AddPlatform(ctx, in)
	if err != nil {
		return fmt.Errorf("platform add: %w", err)
	}
	fmt.Fprintln(m.Stdout, p.ID)
	return nil
}

// platformExtra is the platform settings the Canvas and Moodle flags set
// (nil: none).
func platformExtra(canvasURL, canvasToken, moodleURL, moodleToken string) map[string]string {
	extra := canvas.PlatformExtra(canvasURL, canvasToken)
	for k, v := range moodle.PlatformExtra(moodleURL, moodleToken) {
		if extra == nil {
			extra = map[string]string{}
		}
		extra[k] = v
	}
	return extra
}

// platformSet changes a platform's Canvas or Moodle settings (what the
// owner's platform form sets): an empty flag keeps the stored value.
func (m *Main) platformSet(ctx context.Context, args []string) error {
	fs := m.flags("platform set")
	idFlag := fs.String("id", "", "the platform's id (laurel platform list)")
	canvasURL := fs.String("canvas-url", "", "the institution's Canvas base URL (REST API; Live Events hostname)")
	canvasToken := fs.String("canvas-token", "", "a Canvas API token for reconciliation (stored encrypted)")
	moodleURL := fs.String("moodle-url", "", "the Moodle site's address (web services)")
	moodleToken := fs.String("moodle-token", "", "a Moodle web service token for course completion (stored encrypted)")
	if err := parse(fs, args); err != nil {
		return err
	}
	id, err := strconv.ParseInt(*idFlag, 10, 64)
	if err != nil || id <= 0 {
		return fmt.Errorf("platform set: --id %q is not a platform id (see laurel platform list)", *idFlag)
	}
	extra := platformExtra(*canvasURL, *canvasToken, *moodleURL, *moodleToken)
	if extra == nil {
		return fmt.Errorf("platform set: nothing to set: give --canvas-url, --canvas-token, --moodle-url or --moodle-token")
	}
	a, err := m.openStore(ctx)
	if err != nil {
		return err
	}
	p, err := a.LTI.Registry().UpdatePlatform(ctx, id, lti.PlatformInput{Extra: extra})
	if err != nil {
		return fmt.Errorf("platform set: %w", err)
	}
	fmt.Fprintf(m.Stdout, "platform %d (%s) updated\n", p.ID, p.Name)
	return nil
}

func (m *Main) platformList(ctx context.Context, args []string) error {
	if err := parse(m.flags("platform list"), args); err != nil {
		return err
	}
	a, err := m.openStore(ctx)
	if err != nil {
		return err
	}
	ps, err := a.LTI.Registry().Platforms(ctx)
	if err != nil {
		return err
	}
	settings, err := a.Canvas.PlatformSettings().All(ctx)
	if err != nil {
		return err
	}
	moodles, err := a.Moodle.PlatformSettings().All(ctx)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(m.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tNAME\tISSUER\tCLIENT ID\tCANVAS URL\tTOKEN\tMOODLE URL\tMOODLE TOKEN\tSTATE")
	for _, p := range ps {
		state := "enabled"
		if p.Disabled {
			state = "disabled"
		}
		st := settings[p.ID]
		token := "no"
		if st.HasToken {
			token = "yes"
		}
		ms := moodles[p.ID]
		mtoken := "no"
		if ms.HasToken {
			mtoken = "yes"
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.ID, p.Name, p.Issuer, p.ClientID, st.URL, token, ms.URL, mtoken, state)
	}
	return w.Flush()
}

// platformLink prints a one-time Dynamic Registration link alone on stdout.
func (m *Main) platformLink(ctx context.Context, args []string) error {
	fs := m.flags("platform link")
	expires := fs.Duration("expires", lti.DefaultRegistrationLinkTTL, "how long the link stays valid (1m to 720h)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *expires < lti.MinRegistrationLinkTTL || *expires > lti.MaxRegistrationLinkTTL {
		return fmt.Errorf("platform link: --expires %s is out of range (1m to 720h)", *expires)
	}
	a, err := m.openStore(ctx)
	if err != nil {
		return err
	}
	link, _, err := a.LTI.CreateRegistrationLink(ctx, 0, *expires)
	if err != nil {
		return fmt.Errorf("platform link: %w", err)
	}
	fmt.Fprintln(m.Stdout, link)
	return nil
}

func (m *Main) keysRotate(ctx context.Context, args []string) error {
	fs := m.flags("keys rotate")
	creds := fs.Bool("credentials", false, "rotate the Open Badges credential signing keys (Ed25519 and ES256) instead of the LTI tool key")
	if err := parse(fs, args); err != nil {
		return err
	}
	a, err := m.openStore(ctx)
	if err != nil {
		return err
	}
	if *creds {
		ed, es, err := a.Signing.RotateCredentialKeys(ctx)
		if err != nil {
			return fmt.Errorf("keys rotate --credentials: %w", err)
		}
		fmt.Fprintf(m.Stdout, "new credential keys %s (Data Integrity) and %s (VC-JWT); older keys stay published\n", ed, es)
		return nil
	}
	kid, err := a.LTI.RotateKeys(ctx)
	if err != nil {
		return fmt.Errorf("keys rotate: %w", err)
	}
	fmt.Fprintf(m.Stdout, "new signing key %s; older keys stay published at /lti/jwks until retired\n", kid)
	return nil
}

func (m *Main) reconcile(ctx context.Context, args []string) error {
	fs := m.flags("reconcile")
	mapping := fs.String("mapping", "", "reconcile only this course mapping id")
	if err := parse(fs, args); err != nil {
		return err
	}
	var id int64
	if *mapping != "" {
		var err error
		if id, err = strconv.ParseInt(*mapping, 10, 64); err != nil || id <= 0 {
			return fmt.Errorf("reconcile: --mapping %q is not a mapping id", *mapping)
		}
	}
	a, err := m.openStore(ctx)
	if err != nil {
		return err
	}
	// The rule engine checks each mapping with its platform's checker
	// (Canvas, Moodle).
	var results []course.MappingOutcome
	if id != 0 {
		r, err := a.Course.Reconcile(ctx, id, course.TriggerManual)
		if err != nil {
			return fmt.Errorf("reconcile mapping %d: %w", id, err)
		}
		results = []course.MappingOutcome{{Outcome: r}}
	} else if results, err = a.Course.ReconcileAll(ctx, course.TriggerManual); err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	failed := 0
	for _, r := range results {
		if r.Err != nil {
			failed++
			fmt.Fprintf(m.Stdout, "mapping %d: failed: %v\n", r.MappingID, r.Err)
			continue
		}
		fmt.Fprintf(m.Stdout, "mapping %d: %d students checked, %d completed, %d credentials created\n", r.MappingID, r.Checked, r.Completed, len(r.Created))
		for _, c := range r.Created {
			fmt.Fprintf(m.Stdout, "  created %s for %s <%s>\n", c.ID, c.Recipient.Name, c.Recipient.Email)
		}
		for _, s := range r.Skipped {
			fmt.Fprintf(m.Stdout, "  skipped %s\n", s)
		}
	}
	if failed > 0 {
		return fmt.Errorf("reconcile: %d of %d mappings failed", failed, len(results))
	}
	return nil
}
