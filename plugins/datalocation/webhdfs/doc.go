// Package webhdfs speaks the block-location part of Hadoop's WebHDFS REST API,
// both ways.
//
// Client is a datalocation.Locator for an HDFS NameNode (or any WebHDFS
// server). It asks
//
//	GET <url>/webhdfs/v1<path>?op=GETFILEBLOCKLOCATIONS&offset=N[&length=N][&user.name=U]
//
// (Hadoop 3.2+, answer {"BlockLocations":{"BlockLocation":[...]}}) and, when
// the server refuses that op (HTTP 400 with an IllegalArgumentException or
// UnsupportedOperationException naming it, as older NameNodes answer
// `Invalid value for webhdfs parameter "op": No enum constant
// org.apache.hadoop.hdfs.web.resources.GetOpParam.Op.GETFILEBLOCKLOCATIONS`,
// or an empty 400 as older HttpFS does), falls back to op=GET_BLOCK_LOCATIONS
// (answer {"LocatedBlocks":{...}}) and keeps using it. Block hosts are the
// DataNode host names ("hosts", or "hostName" of each location). Errors in the
// {"RemoteException":{...}} form become *RemoteError; FileNotFoundException
// and HTTP 404 wrap datalocation.ErrNotFound.
//
// Handler serves any Locator (for example the MooseFS one) as
// op=GETFILEBLOCKLOCATIONS, with errors in the same RemoteException form.
//
// The wire forms follow Hadoop's WebHDFS.md (sections "Get File Block
// Locations", "Error Responses", "BlockLocations JSON Schema") and JsonUtil's
// LocatedBlocks serialisation.
//
// Configuration keys (see FromConfig): "url" (required: the NameNode HTTP
// address, e.g. "http://nn.example:9870"), "user" (the user.name parameter).
package webhdfs
