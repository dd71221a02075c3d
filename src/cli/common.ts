/** What the store commands share: the common options and everything of ./shared.js. */
export * from "./options.js"
export * from "./shared.js"
