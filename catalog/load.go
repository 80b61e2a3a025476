package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// decode reads every data/*.yaml file of fsys, strictly, into c.
func (c *Catalog) decode(fsys fs.FS) error {
	names, err := fs.Glob(fsys, "data/*.yaml")
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return errors.New("catalog: no data/*.yaml files")
	}
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		var part Catalog
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&part); err != nil && err != io.EOF {
			return fmt.Errorf("catalog: %s: %w", path.Base(name), err)
		}
		c.Documents = append(c.Documents, part.Documents...)
		c.OSes = append(c.OSes, part.OSes...)
		c.Scenarios = append(c.Scenarios, part.Scenarios...)
		c.Services = append(c.Services, part.Services...)
		c.Roles = append(c.Roles, part.Roles...)
		c.Bindings = append(c.Bindings, part.Bindings...)
	}
	slices.SortStableFunc(c.OSes, func(a, b OS) int { return a.Build - b.Build })
	slices.SortFunc(c.Services, func(a, b Service) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(c.Roles, func(a, b Role) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(c.Documents, func(a, b Document) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(c.Scenarios, func(a, b Scenario) int { return strings.Compare(a.ID, b.ID) })
	return nil
}

// index builds the lookup maps. Duplicates are left for Check to report.
func (c *Catalog) index() {
	c.docs = map[string]*Document{}
	c.oses = map[string]*OS{}
	c.services = map[string]*Service{}
	c.roles = map[string]*Role{}
	c.scenarios = map[string]*Scenario{}
	for i := range c.Scenarios {
		c.scenarios[c.Scenarios[i].ID] = &c.Scenarios[i]
	}
	for i := range c.Documents {
		c.docs[c.Documents[i].ID] = &c.Documents[i]
	}
	for i := range c.OSes {
		o := &c.OSes[i]
		for _, n := range append([]string{o.ID}, o.Aliases...) {
			if _, dup := c.oses[NormalizeOS(n)]; !dup {
				c.oses[NormalizeOS(n)] = o
			}
		}
	}
	for i := range c.Services {
		c.services[c.Services[i].ID] = &c.Services[i]
	}
	for i := range c.Roles {
		r := &c.Roles[i]
		for _, n := range append([]string{r.ID}, r.Aliases...) {
			if _, dup := c.roles[strings.ToLower(n)]; !dup {
				c.roles[strings.ToLower(n)] = r
			}
		}
	}
}

// osSeparators drops the separators users write inside OS names.
var osSeparators = strings.NewReplacer(" ", "", "-", "", "_", "")

// NormalizeOS folds the ways people spell a Windows version ("Windows Server
// 2008 R2", "ws2016", "server2019", "Win10") to the catalog's form ("2008r2").
func NormalizeOS(s string) string {
	s = strings.ToLower(s)
	s = osSeparators.Replace(s)
	for _, p := range []string{"microsoft", "windows", "win", "server", "ws", "srv"} {
		s = strings.TrimPrefix(s, p)
	}
	// A service pack does not change the version's ports: "2008sp2" is 2008.
	if i := strings.LastIndex(s, "sp"); i > 0 && strings.Trim(s[i+2:], "0123456789") == "" && len(s) > i+2 {
		s = s[:i]
	}
	return s
}
