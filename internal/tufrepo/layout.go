// Package tufrepo publishes releases into a static release repository: a
// directory of files any web server, CDN or object store can serve,
// secured with TUF metadata (go-tuf v2's metadata API).
//
// Layout, relative to the repository URL:
//
//	metadata/root.json         newest root; served without caching
//	metadata/N.root.json       every root version, immutable
//	metadata/timestamp.json    served without caching
//	metadata/N.snapshot.json   consistent snapshots, immutable
//	metadata/N.targets.json
//	targets/vX.Y.Z/hoist-release.json, hoist-release.json.minisig,
//	        info.json, objects.json    TUF targets, immutable
//	        [APP.tar.gz]               the whole release (--tarball)
//	objects/<sha256 hex>       each file of each release, immutable
//
// objects.json maps each object of a release to its size, so that a node
// knows the length of every object before it requests it (the signed
// manifest gives only its sha256). The custom metadata of the manifest
// target is {"hoist": Release}, what discovery needs without a download.
//
// A publish writes objects, then targets, then snapshot and timestamp.json
// last, each file by atomic rename, so a client never sees metadata that
// names a file not yet there.
//
// SetRollout changes a published release's rollout in its custom metadata
// only, committing new targets, snapshot and timestamp versions the same way.
package tufrepo

import (
	"encoding/json"
	"path"
)

// Directories of a static repository.
const (
	MetadataDir = "metadata"
	TargetsDir  = "targets"
	ObjectsDir  = "objects"
)

// Names of a release's targets under TargetsDir/vX.Y.Z/.
const (
	ManifestName  = "hoist-release.json"
	SignatureName = "hoist-release.json.minisig"
	InfoName      = "info.json"
	ObjectsName   = "objects.json"
)

// TarballName is the name of the optional tar.gz of a release of app
// (publish --tarball), a flat name fit for a GitHub or Gitea release asset.
func TarballName(app string) string { return app + ".tar.gz" }

// Target is the TUF target path of file name of release tag ("v1.2.0").
func Target(tag, name string) string { return path.Join(tag, name) }

// Object is the repository path of the object with sha256 hex sum.
func Object(sum string) string { return path.Join(ObjectsDir, sum) }

// Custom is the custom metadata of a release's manifest target.
type Custom struct {
	Hoist Release `json:"hoist"`
}

// Release is what a node learns of a release from the targets metadata:
// the fields of its info.json that discovery reads, and its app.
type Release struct {
	App      string `json:"app"`
	Version  string `json:"version"`
	Name     string `json:"name"`
	Notes    string `json:"notes"`
	Requires string `json:"requires"`
	Channel  string `json:"channel"`
	// Changelog is info.json's link to the release's changes.
	Changelog string          `json:"changelog,omitempty"`
	Rollout   json.RawMessage `json:"rollout,omitempty"`
}

// Sizes is the content of objects.json: sha256 hex → length in bytes.
type Sizes map[string]int64
