// The one helper used from mailauth's untyped tools module.
declare module 'mailauth/lib/tools.js' {
  /** The first entry whose organizational domain is the From domain's, or false. Pass strict=false only (mailauth 4.13 mis-handles strict). */
  export function getAlignment(fromDomain: string, domainList: Array<string | { domain: string }>, strict: boolean): { domain: string } | false;
}
