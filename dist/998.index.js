export const id = 998;
export const ids = [998];
export const modules = {

/***/ 51998:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

__webpack_require__.r(__webpack_exports__);
/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   defaults: () => (/* reexport safe */ _actions_github_lib_utils__WEBPACK_IMPORTED_MODULE_1__.NT),
/* harmony export */   getOctokit: () => (/* reexport safe */ _actions_github__WEBPACK_IMPORTED_MODULE_0__.Q)
/* harmony export */ });
/* harmony import */ var _actions_github__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(61351);
/* harmony import */ var _actions_github_lib_utils__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(85555);
/**
 * @actions/github in a module of its own: review-history.ts imports it dynamically, so ncc
 * bundles it (Octokit and its plugins) in a chunk that only a run reading the review history
 * loads.
 */

/** GitHub's defaults for Octokit: its fetch goes through the runner's proxy settings. */



/***/ })

};

//# sourceMappingURL=998.index.js.map