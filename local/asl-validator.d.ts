// asl-validator 4 ships no type declarations; this is the part the local runner uses.
declare module 'asl-validator' {
  interface AslValidatorResult {
    isValid: boolean;
    errors: unknown[];
    errorsText(separator?: string): string;
  }
  export default function aslValidator(definition: unknown, opts?: { checkArn?: boolean; checkPaths?: boolean }): AslValidatorResult;
}
