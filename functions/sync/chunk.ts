// placeholder created by the CDK engineer; owner replaces it
export const handler = async (): Promise<never> => {
  throw new Error('not implemented yet');
};
