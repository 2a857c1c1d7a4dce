// node:http as `require` hands it, for every part that serves plain HTTP (docs/operating.md, "Memory"). An ES
// `import` of node:http builds its module namespace from every export, and reading its WebSocket, CloseEvent and
// MessageEvent exports loads Node's bundled copy of undici, which no part uses: 2-3 MB of a serving process's idle RSS.
export const http = process.getBuiltinModule('node:http');
