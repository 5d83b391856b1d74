package staff

import (
	"errors"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// partials is the partials (_*.html) of a feature's templates, so that
// another feature can share them without its pages.
type partials struct{ fs.FS }

// Open opens name if it is a partial (or the templates directory).
func (p partials) Open(name string) (fs.File, error) {
	if b := path.Base(name); b != "templates" && b != "." && !strings.HasPrefix(b, "_") {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return p.FS.Open(name)
}

// ReadDir lists the partials of directory name.
func (p partials) ReadDir(name string) ([]fs.DirEntry, error) {
	es, err := fs.ReadDir(p.FS, name)
	if err != nil {
		return nil, err
	}
	var out []fs.DirEntry
	for _, e := range es {
		if e.IsDir() || strings.HasPrefix(e.Name(), "_") {
			out = append(out, e)
		}
	}
	return out, nil
}

// union is the files of several file systems as one (the first that has a
// name wins): the renderer parses a feature's partials from its own file
// system, and the staff pages share the credential design with the public
// page.
type union []fs.FS

// Open opens name in the first file system that has it.
func (u union) Open(name string) (fs.File, error) {
	for _, f := range u {
		if file, err := f.Open(name); err == nil {
			return file, nil
		}
	}
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

// ReadDir merges the directory name of every file system.
func (u union) ReadDir(name string) ([]fs.DirEntry, error) {
	seen := map[string]bool{}
	var out []fs.DirEntry
	found := false
	for _, f := range u {
		es, err := fs.ReadDir(f, name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		found = true
		for _, e := range es {
			if !seen[e.Name()] {
				seen[e.Name()] = true
				out = append(out, e)
			}
		}
	}
	if !found {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}
