package staff

import (
	"io/fs"
	"path"
	"sort"
	"strings"
)

// withPartials is a feature's templates with another feature's partials
// (_*.html) beside them: the renderer parses a feature's partials from its
// own file system, and the staff pages share the credential design with the
// public page. A name both have is the feature's own.
type withPartials struct{ own, from fs.FS }

func isPartial(name string) bool { return strings.HasPrefix(path.Base(name), "_") }

// Open opens name in the feature's templates, or a partial in the other's.
func (w withPartials) Open(name string) (fs.File, error) {
	f, err := w.own.Open(name)
	if err != nil && isPartial(name) {
		return w.from.Open(name)
	}
	return f, err
}

// ReadDir lists directory name of the feature's templates with the other's
// partials added.
func (w withPartials) ReadDir(name string) ([]fs.DirEntry, error) {
	out, err := fs.ReadDir(w.own, name)
	if err != nil {
		return nil, err
	}
	more, err := fs.ReadDir(w.from, name)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, e := range out {
		seen[e.Name()] = true
	}
	for _, e := range more {
		if !e.IsDir() && isPartial(e.Name()) && !seen[e.Name()] {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}
