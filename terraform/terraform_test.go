package terraform_test

import (
	"bytes"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// The checks stand in for `terraform validate`, which cannot run here.
// Each returns its problems as messages that start with the file and line,
// so a failure says where to look.
var checks = []struct {
	name string
	fn   func(*tree) []string
}{
	{"parse", func(t *tree) []string { return t.parseProblems }},
	{"module_layout", checkLayout},
	{"variables", eachDir(checkVariables)},
	{"outputs", eachDir(checkOutputs)},
	{"versions", checkVersions},
	{"module_calls", eachDir(checkModuleCalls)},
	{"readme", checkReadmes},
	{"references", eachDir(checkReferences)},
	{"providers", eachDir(checkProviders)},
	{"templates", eachDir(checkTemplates)},
	{"format", checkFormat},
}

func TestTerraform(t *testing.T) {
	tr := load(os.DirFS("."))
	if len(tr.moduleDirs()) == 0 || len(tr.exampleDirs()) == 0 {
		t.Fatalf("found %d modules and %d examples; want at least one of each (is the test running in terraform/?)",
			len(tr.moduleDirs()), len(tr.exampleDirs()))
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			for _, p := range c.fn(tr) {
				t.Error(p)
			}
		})
	}
}

// run applies every check to tr and returns all problems, sorted.
func run(tr *tree) []string {
	var all []string
	for _, c := range checks {
		all = append(all, c.fn(tr)...)
	}
	slices.Sort(all)
	return all
}

// tree is the Terraform configuration under one root (terraform/).
type tree struct {
	fsys          fs.FS
	dirs          map[string]*tfDir // by slash path relative to the root
	sources       map[string][]byte // .tf files by slash path
	parseProblems []string
}

// tfDir is one directory of .tf files: a module or a root configuration.
type tfDir struct {
	path      string
	files     map[string]bool            // every file name in the directory
	bodies    map[string]*hclsyntax.Body // .tf file name -> body
	variables map[string]*variable
	outputs   map[string]*hclsyntax.Block
	locals    map[string]bool
	resources map[string]bool // "type.name"
	data      map[string]bool // "type.name"
	modules   map[string]*hclsyntax.Block
	providers map[string]bool // "aws", "aws.alias": provider blocks and configuration_aliases
	required  map[string]bool // local names in required_providers
}

type variable struct {
	block      *hclsyntax.Block
	hasDefault bool
}

var (
	moduleDirRE     = regexp.MustCompile(`^modules/[^/]+$`)
	exampleDirRE    = regexp.MustCompile(`^examples/[^/]+$`)
	exampleSourceRE = regexp.MustCompile(`^\.\./\.\./modules/[^/]+$`)
)

func (t *tree) sortedDirs() []*tfDir {
	var ds []*tfDir
	for _, p := range slices.Sorted(maps.Keys(t.dirs)) {
		ds = append(ds, t.dirs[p])
	}
	return ds
}

func (t *tree) moduleDirs() []*tfDir  { return t.filter(moduleDirRE) }
func (t *tree) exampleDirs() []*tfDir { return t.filter(exampleDirRE) }

func (t *tree) filter(re *regexp.Regexp) []*tfDir {
	var ds []*tfDir
	for _, d := range t.sortedDirs() {
		if re.MatchString(d.path) {
			ds = append(ds, d)
		}
	}
	return ds
}

func eachDir(fn func(*tree, *tfDir) []string) func(*tree) []string {
	return func(t *tree) []string {
		var ps []string
		for _, d := range t.sortedDirs() {
			ps = append(ps, fn(t, d)...)
		}
		return ps
	}
}

// load parses every .tf file under fsys's root. Directories named
// modules/<name> and examples/<name> are recorded even when they hold no
// .tf file, so that the layout check can name what is missing.
func load(fsys fs.FS) *tree {
	t := &tree{fsys: fsys, dirs: map[string]*tfDir{}, sources: map[string][]byte{}}
	parser := hclparse.NewParser()
	dir := func(p string) *tfDir {
		d, ok := t.dirs[p]
		if !ok {
			d = &tfDir{
				path: p, files: map[string]bool{}, bodies: map[string]*hclsyntax.Body{},
				variables: map[string]*variable{}, outputs: map[string]*hclsyntax.Block{},
				locals: map[string]bool{}, resources: map[string]bool{}, data: map[string]bool{},
				modules: map[string]*hclsyntax.Block{}, providers: map[string]bool{}, required: map[string]bool{},
			}
			t.dirs[p] = d
		}
		return d
	}
	err := fs.WalkDir(fsys, ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			if strings.HasPrefix(e.Name(), ".") && p != "." {
				return fs.SkipDir // .terraform/ and the like
			}
			if moduleDirRE.MatchString(p) || exampleDirRE.MatchString(p) {
				dir(p)
			}
			return nil
		}
		if d, ok := t.dirs[path.Dir(p)]; ok {
			d.files[e.Name()] = true
		}
		switch path.Ext(p) {
		case ".tf":
			src, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			t.sources[p] = src
			f, diags := parser.ParseHCL(src, p)
			t.diagnostics(diags)
			if f == nil {
				return nil
			}
			d := dir(path.Dir(p))
			d.files[e.Name()] = true
			d.index(e.Name(), f.Body.(*hclsyntax.Body))
		case ".tftpl":
			src, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			_, diags := hclsyntax.ParseTemplate(src, p, hcl.InitialPos)
			t.diagnostics(diags)
		}
		return nil
	})
	if err != nil {
		t.parseProblems = append(t.parseProblems, "walk: "+err.Error())
	}
	return t
}

// diagnostics records parse diagnostics, warnings included: a .tf file
// here must parse cleanly.
func (t *tree) diagnostics(diags hcl.Diagnostics) {
	for _, d := range diags {
		where := "?"
		if d.Subject != nil {
			where = pos(*d.Subject)
		}
		t.parseProblems = append(t.parseProblems, where+": "+d.Summary)
	}
}

// index records the declarations of one file.
func (d *tfDir) index(name string, body *hclsyntax.Body) {
	d.bodies[name] = body
	for _, b := range body.Blocks {
		switch {
		case b.Type == "variable" && len(b.Labels) == 1:
			_, def := b.Body.Attributes["default"]
			d.variables[b.Labels[0]] = &variable{block: b, hasDefault: def}
		case b.Type == "output" && len(b.Labels) == 1:
			d.outputs[b.Labels[0]] = b
		case b.Type == "locals":
			for n := range b.Body.Attributes {
				d.locals[n] = true
			}
		case b.Type == "resource" && len(b.Labels) == 2:
			d.resources[b.Labels[0]+"."+b.Labels[1]] = true
		case b.Type == "data" && len(b.Labels) == 2:
			d.data[b.Labels[0]+"."+b.Labels[1]] = true
		case b.Type == "module" && len(b.Labels) == 1:
			d.modules[b.Labels[0]] = b
		case b.Type == "provider" && len(b.Labels) == 1:
			p := b.Labels[0]
			if a, ok := b.Body.Attributes["alias"]; ok {
				if v, diags := a.Expr.Value(nil); !diags.HasErrors() && v.Type() == cty.String {
					p += "." + v.AsString()
				}
			}
			d.providers[p] = true
		case b.Type == "terraform":
			for _, rp := range b.Body.Blocks {
				if rp.Type != "required_providers" {
					continue
				}
				for n, a := range rp.Body.Attributes {
					d.required[n] = true
					d.providers[n] = true
					obj, ok := a.Expr.(*hclsyntax.ObjectConsExpr)
					if !ok {
						continue
					}
					for _, item := range obj.Items {
						if hcl.ExprAsKeyword(item.KeyExpr) != "configuration_aliases" {
							continue
						}
						aliases, _ := hcl.ExprList(item.ValueExpr)
						for _, al := range aliases {
							if tr, diags := hcl.AbsTraversalForExpr(al); !diags.HasErrors() {
								d.providers[traversalString(tr)] = true
							}
						}
					}
				}
			}
		}
	}
}

func pos(r hcl.Range) string { return fmt.Sprintf("%s:%d", r.Filename, r.Start.Line) }

// constString returns the value of expr when it is a constant string.
func constString(expr hcl.Expression) (string, bool) {
	v, diags := expr.Value(nil)
	if diags.HasErrors() || !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
		return "", false
	}
	return v.AsString(), true
}

// The files every module and every example must have.
var (
	moduleFiles  = []string{"main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"}
	exampleFiles = []string{"main.tf", "versions.tf", "README.md"}
)

func checkLayout(t *tree) []string {
	var ps []string
	missing := func(ds []*tfDir, files []string) {
		for _, d := range ds {
			for _, f := range files {
				if !d.files[f] {
					ps = append(ps, fmt.Sprintf("%s: missing %s", d.path, f))
				}
			}
		}
	}
	missing(t.moduleDirs(), moduleFiles)
	missing(t.exampleDirs(), exampleFiles)
	return ps
}

var identRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

func checkVariables(_ *tree, d *tfDir) []string {
	var ps []string
	for _, n := range slices.Sorted(maps.Keys(d.variables)) {
		b := d.variables[n].block
		where := fmt.Sprintf("%s: variable %q", pos(b.DefRange()), n)
		if !identRE.MatchString(n) {
			ps = append(ps, where+": name is not snake_case")
		}
		ps = append(ps, checkDescription(where, b)...)
		if _, ok := b.Body.Attributes["type"]; !ok {
			ps = append(ps, where+": no type")
		}
		for _, vb := range b.Body.Blocks {
			if vb.Type != "validation" {
				continue
			}
			for _, a := range []string{"condition", "error_message"} {
				if _, ok := vb.Body.Attributes[a]; !ok {
					ps = append(ps, fmt.Sprintf("%s: validation without %s", where, a))
				}
			}
			// Terraform rejects a condition that does not test the
			// variable itself.
			if c, ok := vb.Body.Attributes["condition"]; ok && !refersTo(c.Expr, "var", n) {
				ps = append(ps, fmt.Sprintf("%s: validation condition does not refer to var.%s", pos(c.SrcRange), n))
			}
		}
	}
	return ps
}

// refersTo says whether expr refers to root.name.
func refersTo(expr hclsyntax.Expression, root, name string) bool {
	for _, tr := range hclsyntax.Variables(expr) {
		if tr.RootName() == root && stepName(tr, 1) == name {
			return true
		}
	}
	return false
}

func checkOutputs(_ *tree, d *tfDir) []string {
	var ps []string
	for _, n := range slices.Sorted(maps.Keys(d.outputs)) {
		b := d.outputs[n]
		where := fmt.Sprintf("%s: output %q", pos(b.DefRange()), n)
		if !identRE.MatchString(n) {
			ps = append(ps, where+": name is not snake_case")
		}
		ps = append(ps, checkDescription(where, b)...)
		if _, ok := b.Body.Attributes["value"]; !ok {
			ps = append(ps, where+": no value")
		}
	}
	return ps
}

func checkDescription(where string, b *hclsyntax.Block) []string {
	a, ok := b.Body.Attributes["description"]
	if !ok {
		return []string{where + ": no description"}
	}
	s, ok := constString(a.Expr)
	if !ok || strings.TrimSpace(s) == "" {
		return []string{where + ": description must be a non-empty constant string"}
	}
	return nil
}

// checkVersions wants, in versions.tf of every module and example:
//
//	terraform {
//	  required_version = "~> X.Y"
//	  required_providers { name = { source = "...", version = "~> X.Y" } }
//	}
func checkVersions(t *tree) []string {
	var ps []string
	for _, d := range append(t.moduleDirs(), t.exampleDirs()...) {
		body, ok := d.bodies["versions.tf"]
		if !ok {
			continue // checkLayout reports it
		}
		var tfBlocks []*hclsyntax.Block
		for _, b := range body.Blocks {
			if b.Type == "terraform" {
				tfBlocks = append(tfBlocks, b)
			}
		}
		file := path.Join(d.path, "versions.tf")
		if len(tfBlocks) != 1 {
			ps = append(ps, fmt.Sprintf("%s: want one terraform block, found %d", file, len(tfBlocks)))
			continue
		}
		tb := tfBlocks[0]
		where := pos(tb.DefRange()) + ": terraform"
		if a, ok := tb.Body.Attributes["required_version"]; !ok {
			ps = append(ps, where+": no required_version")
		} else if s, ok := constString(a.Expr); !ok || !strings.HasPrefix(s, "~>") {
			ps = append(ps, fmt.Sprintf("%s: required_version %q is not pinned with ~>", where, s))
		}
		var rp []*hclsyntax.Block
		for _, b := range tb.Body.Blocks {
			if b.Type == "required_providers" {
				rp = append(rp, b)
			}
		}
		if len(rp) != 1 {
			ps = append(ps, fmt.Sprintf("%s: want one required_providers block, found %d", where, len(rp)))
			continue
		}
		for _, n := range slices.Sorted(maps.Keys(rp[0].Body.Attributes)) {
			a := rp[0].Body.Attributes[n]
			pw := fmt.Sprintf("%s: required_providers.%s", pos(a.SrcRange), n)
			obj, ok := a.Expr.(*hclsyntax.ObjectConsExpr)
			if !ok {
				ps = append(ps, pw+": want { source = ..., version = ... }")
				continue
			}
			fields := map[string]string{}
			for _, item := range obj.Items {
				if s, ok := constString(item.ValueExpr); ok {
					fields[hcl.ExprAsKeyword(item.KeyExpr)] = s
				}
			}
			if fields["source"] == "" {
				ps = append(ps, pw+": no source")
			}
			if v, ok := fields["version"]; !ok {
				ps = append(ps, pw+": no version")
			} else if !strings.HasPrefix(v, "~>") {
				ps = append(ps, fmt.Sprintf("%s: version %q is not pinned with ~>", pw, v))
			}
		}
	}
	return ps
}

// moduleMeta are the arguments of a module block that are not variables.
var moduleMeta = map[string]bool{"source": true, "version": true, "providers": true, "count": true, "for_each": true, "depends_on": true}

// target resolves a module call to the directory it names, or explains why
// it cannot.
func (t *tree) target(d *tfDir, b *hclsyntax.Block) (*tfDir, string) {
	a, ok := b.Body.Attributes["source"]
	if !ok {
		return nil, "no source"
	}
	src, ok := constString(a.Expr)
	if !ok {
		return nil, "source is not a constant string"
	}
	if !strings.HasPrefix(src, "../") {
		return nil, fmt.Sprintf("source %q is not a local path to a module of this repository", src)
	}
	if exampleDirRE.MatchString(d.path) && !exampleSourceRE.MatchString(src) {
		return nil, fmt.Sprintf("source %q: examples call modules as ../../modules/<name>", src)
	}
	p := path.Join(d.path, src)
	td, ok := t.dirs[p]
	if !ok || !moduleDirRE.MatchString(p) || !td.files["main.tf"] {
		return nil, fmt.Sprintf("source %q: %s is not a module directory", src, p)
	}
	return td, ""
}

func checkModuleCalls(t *tree, d *tfDir) []string {
	var ps []string
	for _, n := range slices.Sorted(maps.Keys(d.modules)) {
		b := d.modules[n]
		where := fmt.Sprintf("%s: module %q", pos(b.DefRange()), n)
		td, why := t.target(d, b)
		if td == nil {
			ps = append(ps, where+": "+why)
			continue
		}
		for _, a := range slices.Sorted(maps.Keys(b.Body.Attributes)) {
			if moduleMeta[a] {
				continue
			}
			if _, ok := td.variables[a]; !ok {
				ps = append(ps, fmt.Sprintf("%s: %s has no variable %q", where, td.path, a))
			}
		}
		for _, v := range slices.Sorted(maps.Keys(td.variables)) {
			if _, passed := b.Body.Attributes[v]; !passed && !td.variables[v].hasDefault {
				ps = append(ps, fmt.Sprintf("%s: variable %q of %s has no default and is not passed", where, v, td.path))
			}
		}
		if a, ok := b.Body.Attributes["providers"]; ok {
			obj, ok := a.Expr.(*hclsyntax.ObjectConsExpr)
			if !ok {
				ps = append(ps, where+": providers is not a map")
				continue
			}
			for _, item := range obj.Items {
				kt, diags := hcl.AbsTraversalForExpr(item.KeyExpr)
				if diags.HasErrors() {
					ps = append(ps, where+": providers key is not a provider name")
					continue
				}
				if k := traversalString(kt); !td.providers[k] {
					ps = append(ps, fmt.Sprintf("%s: providers: %s does not declare provider %s", where, td.path, k))
				}
			}
		}
	}
	return ps
}

func checkReadmes(t *tree) []string {
	var ps []string
	for _, d := range t.moduleDirs() {
		file := path.Join(d.path, "README.md")
		b, err := fs.ReadFile(t.fsys, file)
		if err != nil {
			continue // checkLayout reports it
		}
		readme := string(b)
		for _, v := range slices.Sorted(maps.Keys(d.variables)) {
			if !strings.Contains(readme, "`"+v+"`") {
				ps = append(ps, fmt.Sprintf("%s: does not mention variable `%s`", file, v))
			}
		}
		for _, o := range slices.Sorted(maps.Keys(d.outputs)) {
			if !strings.Contains(readme, "`"+o+"`") {
				ps = append(ps, fmt.Sprintf("%s: does not mention output `%s`", file, o))
			}
		}
	}
	return ps
}

func traversalString(tr hcl.Traversal) string {
	var parts []string
	for _, s := range tr {
		switch s := s.(type) {
		case hcl.TraverseRoot:
			parts = append(parts, s.Name)
		case hcl.TraverseAttr:
			parts = append(parts, s.Name)
		}
	}
	return strings.Join(parts, ".")
}

// refChecker resolves the references of one directory.
type refChecker struct {
	t  *tree
	d  *tfDir
	ps []string
}

// blockCtx is what a reference may use inside one top-level block.
type blockCtx struct {
	count, forEach bool
	iterators      map[string]bool // dynamic block iterators in scope
}

func checkReferences(t *tree, d *tfDir) []string {
	c := &refChecker{t: t, d: d}
	for _, f := range slices.Sorted(maps.Keys(d.bodies)) {
		for _, b := range d.bodies[f].Blocks {
			c.topBlock(b)
		}
	}
	return c.ps
}

func (c *refChecker) topBlock(b *hclsyntax.Block) {
	_, hasCount := b.Body.Attributes["count"]
	_, hasForEach := b.Body.Attributes["for_each"]
	ctx := blockCtx{count: hasCount, forEach: hasForEach, iterators: map[string]bool{}}
	skip := map[string]bool{}
	switch b.Type {
	case "terraform", "moved", "import", "removed":
		return
	case "variable":
		skip["type"] = true // type expressions, not references
	case "module":
		skip["source"], skip["version"], skip["providers"] = true, true, true
		if a, ok := b.Body.Attributes["providers"]; ok {
			if obj, ok := a.Expr.(*hclsyntax.ObjectConsExpr); ok {
				for _, item := range obj.Items {
					c.providerRef(item.ValueExpr)
				}
			}
		}
	case "provider":
		skip["alias"] = true
	case "resource", "data":
		skip["provider"] = true
		if a, ok := b.Body.Attributes["provider"]; ok {
			c.providerRef(a.Expr)
		}
	}
	c.body(b.Body, ctx, skip)
}

func (c *refChecker) providerRef(expr hcl.Expression) {
	tr, diags := hcl.AbsTraversalForExpr(expr)
	if diags.HasErrors() {
		c.ps = append(c.ps, pos(expr.Range())+": not a provider reference")
		return
	}
	if p := traversalString(tr); !c.d.providers[p] {
		c.ps = append(c.ps, fmt.Sprintf("%s: provider %s is not declared", pos(expr.Range()), p))
	}
}

func (c *refChecker) body(b *hclsyntax.Body, ctx blockCtx, skip map[string]bool) {
	for _, n := range slices.Sorted(maps.Keys(b.Attributes)) {
		if !skip[n] {
			c.expr(b.Attributes[n].Expr, ctx)
		}
	}
	for _, blk := range b.Blocks {
		switch blk.Type {
		case "lifecycle":
			// ignore_changes lists attribute names, not references.
			c.body(blk.Body, ctx, map[string]bool{"ignore_changes": true})
		case "dynamic":
			inner := blockCtx{count: ctx.count, forEach: ctx.forEach, iterators: map[string]bool{}}
			for k := range ctx.iterators {
				inner.iterators[k] = true
			}
			it := blk.Labels[0]
			if a, ok := blk.Body.Attributes["iterator"]; ok {
				it = hcl.ExprAsKeyword(a.Expr)
			}
			inner.iterators[it] = true
			for _, n := range slices.Sorted(maps.Keys(blk.Body.Attributes)) {
				switch n {
				case "iterator":
				case "for_each":
					c.expr(blk.Body.Attributes[n].Expr, ctx)
				default:
					c.expr(blk.Body.Attributes[n].Expr, inner)
				}
			}
			for _, cb := range blk.Body.Blocks {
				c.body(cb.Body, inner, nil)
			}
		default:
			c.body(blk.Body, ctx, nil)
		}
	}
}

func stepName(tr hcl.Traversal, i int) string {
	if i < len(tr) {
		if a, ok := tr[i].(hcl.TraverseAttr); ok {
			return a.Name
		}
	}
	return ""
}

func (c *refChecker) expr(e hclsyntax.Expression, ctx blockCtx) {
	for _, tr := range hclsyntax.Variables(e) {
		c.ref(tr, ctx)
	}
}

func (c *refChecker) ref(tr hcl.Traversal, ctx blockCtx) {
	at := pos(tr.SourceRange())
	bad := func(format string, args ...any) {
		c.ps = append(c.ps, at+": "+fmt.Sprintf(format, args...))
	}
	root := tr.RootName()
	switch root {
	case "var":
		if n := stepName(tr, 1); c.d.variables[n] == nil {
			bad("var.%s is not declared", n)
		}
	case "local":
		if n := stepName(tr, 1); !c.d.locals[n] {
			bad("local.%s is not declared", n)
		}
	case "data":
		if n := stepName(tr, 1) + "." + stepName(tr, 2); !c.d.data[n] {
			bad("data.%s is not declared", n)
		}
	case "module":
		n := stepName(tr, 1)
		b := c.d.modules[n]
		if b == nil {
			bad("module.%s is not declared", n)
			return
		}
		// module.<name>[key].<output>: skip an index after the name.
		i := 2
		if i < len(tr) {
			if _, ok := tr[i].(hcl.TraverseIndex); ok {
				i++
			}
		}
		out := stepName(tr, i)
		if out == "" {
			return // the whole module, as in depends_on
		}
		if td, _ := c.t.target(c.d, b); td != nil && td.outputs[out] == nil {
			bad("module.%s.%s: %s has no output %q", n, out, td.path, out)
		}
	case "count":
		if !ctx.count {
			bad("count.%s outside a block with count", stepName(tr, 1))
		}
	case "each":
		if !ctx.forEach {
			bad("each.%s outside a block with for_each", stepName(tr, 1))
		}
	case "path", "self", "terraform":
	default:
		switch {
		case ctx.iterators[root]:
		case strings.Contains(root, "_"):
			if n := root + "." + stepName(tr, 1); !c.d.resources[n] {
				bad("%s is not declared", n)
			}
		default:
			bad("unknown name %q", root)
		}
	}
}

func checkProviders(_ *tree, d *tfDir) []string {
	var ps []string
	for _, f := range slices.Sorted(maps.Keys(d.bodies)) {
		for _, b := range d.bodies[f].Blocks {
			if (b.Type != "resource" && b.Type != "data") || len(b.Labels) != 2 {
				continue
			}
			p, _, _ := strings.Cut(b.Labels[0], "_")
			if p == "terraform" { // terraform_data, terraform_remote_state: built in
				continue
			}
			if !d.required[p] {
				ps = append(ps, fmt.Sprintf("%s: %s %q %q: provider %q is not in required_providers",
					pos(b.DefRange()), b.Type, b.Labels[0], b.Labels[1], p))
			}
		}
	}
	return ps
}

// checkTemplates finds templatefile("${path.module}/NAME", { ... }) calls
// and checks that NAME exists, parses, and uses only the variables passed.
func checkTemplates(t *tree, d *tfDir) []string {
	var ps []string
	for _, f := range slices.Sorted(maps.Keys(d.bodies)) {
		hclsyntax.VisitAll(d.bodies[f], func(n hclsyntax.Node) hcl.Diagnostics {
			call, ok := n.(*hclsyntax.FunctionCallExpr)
			if !ok || (call.Name != "templatefile" && call.Name != "file") || len(call.Args) == 0 {
				return nil
			}
			at := pos(call.NameRange)
			where := fmt.Sprintf("%s: %s", at, call.Name)
			name, ok := moduleRelative(call.Args[0])
			if !ok {
				ps = append(ps, where+`: first argument must be "${path.module}/NAME"`)
				return nil
			}
			file := path.Join(d.path, name)
			src, err := fs.ReadFile(t.fsys, file)
			if err != nil {
				ps = append(ps, fmt.Sprintf("%s: %s: no such file", where, file))
				return nil
			}
			if call.Name != "templatefile" || len(call.Args) != 2 {
				return nil
			}
			obj, ok := call.Args[1].(*hclsyntax.ObjectConsExpr)
			if !ok {
				ps = append(ps, where+": variables must be an object literal { name = value }")
				return nil
			}
			passed := map[string]bool{}
			for _, item := range obj.Items {
				passed[hcl.ExprAsKeyword(item.KeyExpr)] = true
			}
			tmpl, diags := hclsyntax.ParseTemplate(src, file, hcl.InitialPos)
			if diags.HasErrors() {
				return nil // reported by the parse check
			}
			for _, tr := range hclsyntax.Variables(tmpl) {
				if !passed[tr.RootName()] {
					ps = append(ps, fmt.Sprintf("%s: template variable %q is not passed by the templatefile call at %s", pos(tr.SourceRange()), tr.RootName(), at))
				}
			}
			return nil
		})
	}
	return ps
}

// checkFormat wants every .tf file in the canonical layout that
// `terraform fmt` produces (hclwrite.Format: indentation, aligned "=").
func checkFormat(t *tree) []string {
	var ps []string
	for _, p := range slices.Sorted(maps.Keys(t.sources)) {
		src := t.sources[p]
		want := hclwrite.Format(src)
		if bytes.Equal(src, want) {
			continue
		}
		got, fmtd := strings.Split(string(src), "\n"), strings.Split(string(want), "\n")
		line := 1
		for line <= len(got) && line <= len(fmtd) && got[line-1] == fmtd[line-1] {
			line++
		}
		ps = append(ps, fmt.Sprintf("%s:%d: not formatted as terraform fmt would (%q)", p, line, fmtd[min(line, len(fmtd))-1]))
	}
	return ps
}

// moduleRelative returns NAME from the template "${path.module}/NAME".
func moduleRelative(e hclsyntax.Expression) (string, bool) {
	tmpl, ok := e.(*hclsyntax.TemplateExpr)
	if !ok || len(tmpl.Parts) != 2 {
		return "", false
	}
	st, ok := tmpl.Parts[0].(*hclsyntax.ScopeTraversalExpr)
	if !ok || traversalString(st.Traversal) != "path.module" {
		return "", false
	}
	lit, ok := constString(tmpl.Parts[1])
	if !ok || !strings.HasPrefix(lit, "/") {
		return "", false
	}
	return strings.TrimPrefix(lit, "/"), true
}

// TestShellTemplates renders every shell template with sample values and
// checks the result with `sh -n`: a syntax error there would otherwise show
// only at an instance's first boot.
func TestShellTemplates(t *testing.T) {
	strs := func(ss ...string) cty.Value {
		if len(ss) == 0 {
			return cty.ListValEmpty(cty.String)
		}
		vs := make([]cty.Value, len(ss))
		for i, s := range ss {
			vs[i] = cty.StringVal(s)
		}
		return cty.ListVal(vs)
	}
	tests := map[string]map[string]cty.Value{
		"modules/meridian-cloud-init/install.sh.tftpl": {
			"service":           cty.StringVal("proxy"),
			"binary_url":        cty.StringVal("https://downloads.example.com/meridian.tar.gz"),
			"binary_sha256":     cty.StringVal(strings.Repeat("ab", 32)),
			"secret_paths":      strs("/etc/meridian/etcd/client-key.pem", "/etc/meridian/etcd/password"),
			"env_command_names": strs("MERIDIAN_ADVERTISE"),
			"env_file":          cty.StringVal("/etc/meridian/proxy.env"),
			"boot_indexes":      cty.ListVal([]cty.Value{cty.NumberIntVal(0), cty.NumberIntVal(1)}),
			"enable_units":      strs("meridian-geoip-update.timer"),
			"unit_name":         cty.StringVal("meridian-proxy.service"),
		},
		"modules/meridian-dns/geoip-update.sh.tftpl": {
			"account_id":       cty.StringVal("123456"),
			"license_key_file": cty.StringVal("/etc/meridian/geoip/license-key"),
			"edition":          cty.StringVal("GeoLite2-City"),
			"mmdb":             cty.StringVal("/var/lib/meridian/GeoLite2-City.mmdb"),
		},
		"modules/meridian-etcd/install-etcd.sh.tftpl": {
			"name":         cty.StringVal("etcd-eu-west"),
			"download_url": cty.StringVal("https://github.com/etcd-io/etcd/releases/download/v3.7.3/etcd-v3.7.3-linux-amd64.tar.gz"),
			"sha256":       cty.StringVal(strings.Repeat("cd", 32)),
			"pki":          cty.StringVal("/etc/etcd/pki"),
			"key_command":  cty.StringVal("aws ssm get-parameter --region eu-west-1 --with-decryption --query Parameter.Value --output text --name '/meridian-etcd/etcd-eu-west/member-key'"),
		},
	}
	// Every shell template needs a row, so that a new one is not skipped.
	shells, err := fs.Glob(os.DirFS("."), "modules/*/*.sh.tftpl")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(slices.Sorted(maps.Keys(tests)), shells); diff != "" {
		t.Errorf("shell templates without a row in this test, or rows without a template (-rows +templates):\n%s", diff)
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh on PATH")
	}
	for _, file := range slices.Sorted(maps.Keys(tests)) {
		t.Run(file, func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			tmpl, diags := hclsyntax.ParseTemplate(src, file, hcl.InitialPos)
			if diags.HasErrors() {
				t.Fatalf("parse: %s", diags.Error())
			}
			v, diags := tmpl.Value(&hcl.EvalContext{Variables: tests[file]})
			if diags.HasErrors() {
				t.Fatalf("render: %s", diags.Error())
			}
			out := filepath.Join(t.TempDir(), "script.sh")
			if err := os.WriteFile(out, []byte(v.AsString()), 0o600); err != nil {
				t.Fatal(err)
			}
			if b, err := exec.CommandContext(t.Context(), sh, "-n", out).CombinedOutput(); err != nil {
				t.Errorf("sh -n on %s rendered: %v\n%s\nscript:\n%s", file, err, b, v.AsString())
			}
		})
	}
}

// A small module and an example that calls it, correct in every way the
// checks look at. Each case of TestChecksCatchMistakes breaks one thing.
var cleanTree = map[string]string{
	"modules/m/main.tf": `
locals {
  text = templatefile("${path.module}/greeting.tftpl", { name = var.name })
}

resource "terraform_data" "greeting" {
  count = var.loud ? 1 : 0
  input = upper(local.text)
}
`,
	"modules/m/greeting.tftpl": "Hello, ${name}!\n",
	"modules/m/variables.tf": `
variable "name" {
  description = "Who to greet."
  type        = string

  validation {
    condition     = length(var.name) > 0
    error_message = "name must not be empty."
  }
}

variable "loud" {
  description = "Shout."
  type        = bool
  default     = true
}
`,
	"modules/m/outputs.tf": `
output "greeting" {
  description = "The greeting."
  value       = terraform_data.greeting[*].output
}
`,
	"modules/m/versions.tf": versionsTF,
	"modules/m/README.md":   "# m\n\nInputs: `name`, `loud`. Outputs: `greeting`.\n",
	"examples/e/main.tf": `
provider "aws" {
  alias  = "west"
  region = "eu-west-1"
}

module "m" {
  source    = "../../modules/m"
  providers = { aws = aws.west }
  name      = "world"
}
`,
	"examples/e/outputs.tf": `
output "greeting" {
  description = "The greeting."
  value       = module.m.greeting
}
`,
	"examples/e/versions.tf": versionsTF,
	"examples/e/README.md":   "# e\n",
}

const versionsTF = `
terraform {
  required_version = "~> 1.9"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
  }
}
`

func TestChecksCatchMistakes(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string // replaces files of cleanTree; "" removes one
		want  []string
	}{
		{name: "clean"},
		{
			name:  "parse error",
			files: map[string]string{"modules/m/outputs.tf": "output \"greeting\" {\n  value = 1\n"},
			want: []string{
				"modules/m/outputs.tf:1: Unclosed configuration block",
				`modules/m/outputs.tf:1: output "greeting": no description`,
			},
		},
		{
			name:  "missing files",
			files: map[string]string{"modules/m/README.md": "", "modules/m/versions.tf": "", "examples/e/README.md": ""},
			want: []string{
				// Without versions.tf, the module requires no provider.
				`examples/e/main.tf:7: module "m": providers: modules/m does not declare provider aws`,
				"examples/e: missing README.md",
				"modules/m: missing README.md",
				"modules/m: missing versions.tf",
			},
		},
		{
			name: "variable without description or type",
			files: map[string]string{"modules/m/variables.tf": `
variable "name" {
  description = ""
}

variable "loud" {
  type    = bool
  default = true

  validation {
    condition     = var.name != ""
    error_message = "never."
  }
}

variable "Bad_Name" {
  description = "Not snake case."
  type        = string
  default     = ""
}
`},
			want: []string{
				"modules/m/README.md: does not mention variable `Bad_Name`",
				"modules/m/variables.tf:11: validation condition does not refer to var.loud",
				`modules/m/variables.tf:16: variable "Bad_Name": name is not snake_case`,
				`modules/m/variables.tf:2: variable "name": description must be a non-empty constant string`,
				`modules/m/variables.tf:2: variable "name": no type`,
				`modules/m/variables.tf:6: variable "loud": no description`,
			},
		},
		{
			name:  "output without description",
			files: map[string]string{"modules/m/outputs.tf": "output \"greeting\" {\n  value = 1\n}\n"},
			want: []string{
				`modules/m/outputs.tf:1: output "greeting": no description`,
			},
		},
		{
			name: "versions not pinned",
			files: map[string]string{"modules/m/versions.tf": `
terraform {
  required_version = ">= 1.9"
  required_providers {
    aws = {
      source = "hashicorp/aws"
    }
    tls = {
      source  = "hashicorp/tls"
      version = ">= 4.0"
    }
  }
}
`},
			want: []string{
				`modules/m/versions.tf:2: terraform: required_version ">= 1.9" is not pinned with ~>`,
				"modules/m/versions.tf:5: required_providers.aws: no version",
				`modules/m/versions.tf:8: required_providers.tls: version ">= 4.0" is not pinned with ~>`,
			},
		},
		{
			name: "module calls",
			files: map[string]string{"examples/e/main.tf": `
module "m" {
  source = "../../modules/m"
  nmae   = "world"
}

module "gone" {
  source = "../../modules/gone"
}

module "registry" {
  source  = "terraform-aws-modules/vpc/aws"
  version = "~> 5.0"
}

module "west" {
  source    = "../../modules/m"
  providers = { tls = aws.west }
  name      = "world"
}
`},
			want: []string{
				`examples/e/main.tf:11: module "registry": source "terraform-aws-modules/vpc/aws" is not a local path to a module of this repository`,
				`examples/e/main.tf:16: module "west": providers: modules/m does not declare provider tls`,
				"examples/e/main.tf:18: provider aws.west is not declared",
				`examples/e/main.tf:2: module "m": modules/m has no variable "nmae"`,
				`examples/e/main.tf:2: module "m": variable "name" of modules/m has no default and is not passed`,
				`examples/e/main.tf:7: module "gone": source "../../modules/gone": modules/gone is not a module directory`,
			},
		},
		{
			name:  "readme misses a variable",
			files: map[string]string{"modules/m/README.md": "# m\n\nInputs: name, `loud`. Outputs: `greeting`.\n"},
			want: []string{
				"modules/m/README.md: does not mention variable `name`",
			},
		},
		{
			name: "references that do not resolve",
			files: map[string]string{"modules/m/main.tf": `
locals {
  text = templatefile("${path.module}/greeting.tftpl", { name = var.nmae })
}

resource "terraform_data" "greeting" {
  input = [local.txt, terraform_data.greting.id, data.aws_ami.debian.id, each.key, count.index, nope]

  dynamic "thing" {
    for_each = var.name
    content {
      value = thing.value
    }
  }

  lifecycle {
    ignore_changes = [input]
  }
}
`, "examples/e/outputs.tf": `
output "greeting" {
  description = "The greeting."
  value       = [module.m.greting, module.n.greeting]
}
`},
			want: []string{
				`examples/e/outputs.tf:4: module.m.greting: modules/m has no output "greting"`,
				"examples/e/outputs.tf:4: module.n is not declared",
				"modules/m/main.tf:3: var.nmae is not declared",
				"modules/m/main.tf:7: count.index outside a block with count",
				"modules/m/main.tf:7: data.aws_ami.debian is not declared",
				"modules/m/main.tf:7: each.key outside a block with for_each",
				"modules/m/main.tf:7: local.txt is not declared",
				"modules/m/main.tf:7: terraform_data.greting is not declared",
				`modules/m/main.tf:7: unknown name "nope"`,
			},
		},
		{
			name: "not formatted",
			files: map[string]string{"modules/m/outputs.tf": `
output "greeting" {
  description = "The greeting."
  value = terraform_data.greeting[*].output
}
`},
			want: []string{
				`modules/m/outputs.tf:4: not formatted as terraform fmt would ("  value       = terraform_data.greeting[*].output")`,
			},
		},
		{
			name: "provider not required",
			files: map[string]string{"modules/m/outputs.tf": `
resource "tls_private_key" "k" {
  algorithm = "ECDSA"
}

output "greeting" {
  description = "The greeting."
  value       = tls_private_key.k.public_key_pem
}
`},
			want: []string{
				`modules/m/outputs.tf:2: resource "tls_private_key" "k": provider "tls" is not in required_providers`,
			},
		},
		{
			name: "templates",
			files: map[string]string{"modules/m/greeting.tftpl": "Hello, ${name} and ${other}!\n", "modules/m/outputs.tf": `
output "greeting" {
  description = "The greeting."
  value       = [templatefile("${path.module}/missing.tftpl", {}), file("farewell.txt")]
}
`},
			want: []string{
				`modules/m/greeting.tftpl:1: template variable "other" is not passed by the templatefile call at modules/m/main.tf:3`,
				`modules/m/outputs.tf:4: file: first argument must be "${path.module}/NAME"`,
				"modules/m/outputs.tf:4: templatefile: modules/m/missing.tftpl: no such file",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for name, content := range cleanTree {
				fsys[name] = &fstest.MapFile{Data: []byte(content)}
			}
			for name, content := range tc.files {
				if content == "" {
					delete(fsys, name)
					continue
				}
				fsys[name] = &fstest.MapFile{Data: []byte(content)}
			}
			got := run(load(fsys))
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}
