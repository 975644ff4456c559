/// `path` as seen from the directory of `file` (absolute paths stay as
/// they are), with "." and "name/.." segments removed so that one file
/// has one name in messages.
func resolve(_ path: String, relativeTo file: String) -> String {
    if path.hasPrefix("/") { return normalized(path) }
    guard let slash = file.lastIndex(of: "/") else { return normalized(path) }
    return normalized(String(file[...slash]) + path)
}

func normalized(_ path: String) -> String {
    let isAbsolute = path.hasPrefix("/")
    var segments: [Substring] = []
    for segment in path.split(separator: "/") where segment != "." {
        if segment == "..", let last = segments.last, last != ".." {
            segments.removeLast()
        } else if segment != ".." || !isAbsolute || !segments.isEmpty {
            segments.append(segment)
        }
    }
    let joined = segments.joined(separator: "/")
    if isAbsolute { return "/" + joined }
    return joined.isEmpty ? "." : joined
}
