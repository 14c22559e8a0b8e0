export const id = 545;
export const ids = [545];
export const modules = {

/***/ 3545:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

__webpack_require__.r(__webpack_exports__);
/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   DefaultArtifactClient: () => (/* reexport safe */ _actions_artifact__WEBPACK_IMPORTED_MODULE_2__.t9),
/* harmony export */   zipEntries: () => (/* binding */ zipEntries)
/* harmony export */ });
/* harmony import */ var node_fs__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(73024);
/* harmony import */ var node_fs__WEBPACK_IMPORTED_MODULE_0___default = /*#__PURE__*/__webpack_require__.n(node_fs__WEBPACK_IMPORTED_MODULE_0__);
/* harmony import */ var unzip_stream__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(33991);
/* harmony import */ var _actions_artifact__WEBPACK_IMPORTED_MODULE_2__ = __webpack_require__(69800);
/**
 * The packages behind the artifact client, in a module of their own: client.ts imports it
 * dynamically, so ncc bundles @actions/artifact (with the Azure SDK and Octokit it brings) in a
 * chunk that only a step using artifacts loads.
 */



/**
 * The files of a downloaded artifact, read with unzip-stream, the reader actions/download-artifact
 * unpacks artifacts with, into memory and no further than `maxBytes` of content in all (a small
 * archive may inflate to gigabytes). Undefined when the download is not a zip at all: since
 * @actions/artifact 6.1.0 an artifact may be one file sent as it is.
 */
function zipEntries(file, maxBytes) {
    return new Promise((resolve, reject) => {
        const source = (0,node_fs__WEBPACK_IMPORTED_MODULE_0__.createReadStream)(file);
        const parser = unzip_stream__WEBPACK_IMPORTED_MODULE_1__.Parse();
        const files = [];
        let total = 0;
        let settled = false;
        const fail = (error) => {
            if (settled)
                return;
            settled = true;
            source.destroy();
            reject(error);
        };
        parser.on('entry', (entry) => {
            if (entry.type === 'Directory') {
                entry.autodrain();
                return;
            }
            const chunks = [];
            files.push(new Promise((done) => {
                entry.on('data', (chunk) => {
                    total += chunk.length;
                    if (total > maxBytes)
                        fail(new Error(`its files hold more than ${maxBytes} bytes`));
                    else
                        chunks.push(chunk);
                });
                entry.on('end', () => done({ name: entry.path, data: Buffer.concat(chunks) }));
                entry.on('error', fail);
            }));
        });
        parser.on('error', (error) => {
            // unzip-stream's word for a stream whose first bytes are no zip signature.
            if (error.message === 'Not a valid zip file' && files.length === 0 && !settled) {
                settled = true;
                source.destroy();
                resolve(undefined);
            }
            else
                fail(error);
        });
        parser.on('close', () => {
            Promise.all(files).then((read) => {
                if (settled)
                    return;
                settled = true;
                resolve(read);
            }, fail);
        });
        source.on('error', fail);
        source.pipe(parser);
    });
}


/***/ })

};

//# sourceMappingURL=545.index.js.map